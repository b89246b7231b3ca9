variable "name" {
  description = "Name of the topic and prefix of the rules."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key encrypting the topic (its policy must let events, cloudwatch and budgets use it)."
  type        = string
}

variable "email_addresses" {
  description = "Addresses subscribed to the topic (each confirms by email)."
  type        = list(string)
  default     = []
}

variable "pipeline_arns" {
  description = "SageMaker pipelines whose failed executions are reported."
  type        = list(string)
}

variable "model_package_groups" {
  description = "Model package groups whose approvals are reported."
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
