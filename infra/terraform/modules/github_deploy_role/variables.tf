variable "name" {
  description = "Role name."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository allowed to assume the role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "branches" {
  description = "Branches whose workflows may assume the role."
  type        = list(string)
  default     = ["main"]
}

variable "environments" {
  description = "GitHub environments (with their protection rules) whose jobs may assume the role."
  type        = list(string)
  default     = []
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (false when another environment in the account already did)."
  type        = bool
  default     = true
}

variable "repository_arns" {
  description = "ECR repositories the workflows push to."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key of the ECR repositories."
  type        = string
}

variable "cluster_arn" {
  description = "EKS cluster the serving workflow deploys to (namespace rights come from the EKS access entry); null without the EKS path."
  type        = string
  default     = null
}

variable "pipeline_names" {
  description = "SageMaker pipelines the pipeline workflow upserts."
  type        = list(string)
}

variable "sagemaker_role_arn" {
  description = "Execution role passed to the SageMaker pipeline."
  type        = string
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
