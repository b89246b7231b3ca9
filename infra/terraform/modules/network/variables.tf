variable "name" {
  description = "Name prefix of the network resources."
  type        = string
}

variable "cidr_block" {
  description = "VPC CIDR block (a /16 leaves room for 8 private and 8 public /20 subnets)."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones with a private (and, if public, a public) subnet."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 8
    error_message = "az_count must be 2 to 8 (EKS and the load balancer need two zones)."
  }
}

variable "endpoint_az_count" {
  description = "Zones that get interface endpoints; each endpoint is billed per zone-hour, so dev uses 1."
  type        = number
  default     = 2
}

variable "interface_endpoints" {
  description = "Interface endpoint services reached without NAT (S3 is a gateway endpoint): image pulls (ecr.api, ecr.dkr), logs, IRSA (sts), the VPC CNI (ec2), the load balancer controller (elasticloadbalancing) and the pipeline's model registry calls (sagemaker.api)."
  type        = list(string)
  default     = ["ecr.api", "ecr.dkr", "logs", "sts", "sagemaker.api", "ec2", "elasticloadbalancing"]
}

variable "mlflow_endpoint" {
  description = "An interface endpoint for SageMaker managed MLflow (aws.sagemaker.<region>.experiments), for steps that log to a tracking server."
  type        = bool
  default     = false
}

variable "public_load_balancer" {
  description = "Create public subnets and an internet gateway for an internet-facing load balancer. Off: the serving endpoint is internal only."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "KMS key for the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the VPC flow-log group."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
