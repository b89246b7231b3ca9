variable "name" {
  description = "Globally unique bucket name."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for default SSE-KMS encryption."
  type        = string
}

variable "extra_policy_documents" {
  description = "Further bucket policy documents (JSON) merged into the TLS-only policy, for example a CloudTrail delivery grant."
  type        = list(string)
  default     = []
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a non-current object version is deleted."
  type        = number
  default     = 30
}

variable "noncurrent_versions_to_keep" {
  description = "Non-current versions kept regardless of age (a short undo history)."
  type        = number
  default     = 3
}

variable "expire_prefixes" {
  description = "Key prefix => days after which current objects under it expire (for example tmp/)."
  type        = map(number)
  default     = {}
}

variable "transition_prefixes" {
  description = "Key prefix => ages (days) at which objects move to STANDARD_IA and then GLACIER_IR."
  type = map(object({
    infrequent_access_after_days         = number
    glacier_instant_retrieval_after_days = number
  }))
  default = {}

  validation {
    condition = alltrue([
      for t in values(var.transition_prefixes) :
      t.infrequent_access_after_days >= 30 && t.glacier_instant_retrieval_after_days >= t.infrequent_access_after_days + 30
    ])
    error_message = "STANDARD_IA needs at least 30 days, and GLACIER_IR at least 30 days after it."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
