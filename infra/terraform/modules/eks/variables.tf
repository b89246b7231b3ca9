variable "name" {
  description = "Cluster name."
  type        = string
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version (minor), upgraded deliberately."
  type        = string
  default     = "1.34"
}

variable "vpc_id" {
  description = "VPC of the cluster (the load balancer controller may create security groups only there)."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets for the control-plane ENIs and the nodes."
  type        = list(string)
}

variable "endpoint_public_access" {
  description = "Expose the Kubernetes API publicly (restricted to endpoint_public_access_cidrs). Off: reach it from inside the VPC."
  type        = bool
  default     = false
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach a public API endpoint."
  type        = list(string)
  default     = []

  validation {
    condition     = !contains(var.endpoint_public_access_cidrs, "0.0.0.0/0")
    error_message = "The Kubernetes API must not be open to 0.0.0.0/0."
  }
}

variable "kms_key_arn" {
  description = "KMS key for Kubernetes secrets, node volumes and the control-plane log group."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the control-plane log group."
  type        = number
  default     = 90
}

variable "capacity_type" {
  description = "ON_DEMAND or SPOT for the managed node group."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.capacity_type)
    error_message = "capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "instance_types" {
  description = "Node instance types; give several for Spot so capacity can come from more pools."
  type        = list(string)
  default     = ["m7i.large"]
}

variable "node_min_size" {
  description = "Minimum nodes."
  type        = number
  default     = 2
}

variable "node_desired_size" {
  description = "Initial nodes."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum nodes."
  type        = number
  default     = 4
}

variable "node_disk_gib" {
  description = "Root volume size of a node."
  type        = number
  default     = 30
}

variable "serving_namespace" {
  description = "Namespace the deploy roles may edit."
  type        = string
  default     = "mlops-serving"
}

variable "deploy_role_arns" {
  description = "Label => IAM role ARN allowed to edit the serving namespace (the CI deploy role)."
  type        = map(string)
  default     = {}
}

variable "admin_role_arns" {
  description = "Label => IAM role ARN with cluster-admin access (break-glass operators)."
  type        = map(string)
  default     = {}
}

variable "addons" {
  description = "EKS add-ons and their versions (null: the default version for the cluster)."
  type        = map(string)
  default = {
    "vpc-cni"                         = null
    "kube-proxy"                      = null
    "coredns"                         = null
    "amazon-cloudwatch-observability" = null
    # the HPA's CPU and memory figures (infra/k8s/base/hpa.yaml): EKS does not run a
    # metrics server unless asked; an EKS community add-on, its image in Amazon ECR
    "metrics-server" = null
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
