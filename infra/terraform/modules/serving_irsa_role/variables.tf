variable "name" {
  description = "Role name."
  type        = string
}

variable "oidc_provider_arn" {
  description = "IAM OIDC provider of the EKS cluster."
  type        = string
}

variable "oidc_provider_host" {
  description = "OIDC issuer host of the cluster (without https://)."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the serving service account."
  type        = string
  default     = "mlops-serving"
}

variable "service_account" {
  description = "Kubernetes service account of the serving pods."
  type        = string
  default     = "mlops-serving"
}

variable "bucket_arn" {
  description = "ARN of the data lake bucket."
  type        = string
}

variable "models_prefix" {
  description = "Key prefix of the model store (lake prefix + /models)."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the lake."
  type        = string
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
