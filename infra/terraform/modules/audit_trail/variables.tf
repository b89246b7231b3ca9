variable "name" {
  description = "Trail name."
  type        = string
}

variable "log_bucket_name" {
  description = "Name of the bucket the trail delivers to (created by this module)."
  type        = string
}

variable "data_bucket_arn" {
  description = "ARN of the data lake bucket whose object-level events are recorded."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key for the trail and its bucket (its policy must allow cloudtrail.amazonaws.com)."
  type        = string
}

variable "log_expiration_days" {
  description = "Days the trail's log files are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
