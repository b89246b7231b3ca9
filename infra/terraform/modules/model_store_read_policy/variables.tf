variable "bucket_arn" {
  description = "ARN of the bucket holding the model store."
  type        = string
}

variable "models_prefix" {
  description = "Key prefix of the model store in the bucket (<lake prefix>/models)."
  type        = string
}

variable "kms_key_arn" {
  description = "Key the model store's objects are encrypted with."
  type        = string
}
