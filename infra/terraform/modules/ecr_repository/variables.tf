variable "name" {
  description = "Repository name (for example mlops-serving)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for image encryption at rest."
  type        = string
}

variable "keep_last_images" {
  description = "Images kept; older ones expire (enough to roll back several releases)."
  type        = number
  default     = 20

  validation {
    condition     = var.keep_last_images >= 2
    error_message = "keep_last_images must be at least 2, or a rollback has nothing to go back to."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images expire."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
