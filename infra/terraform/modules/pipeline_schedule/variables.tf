variable "name" {
  description = "Schedule name."
  type        = string
}

variable "pipeline_name" {
  description = "SageMaker pipeline to start (mlops-sagemaker run --name)."
  type        = string
}

variable "schedule_expression" {
  description = "When to start the pipeline (EventBridge Scheduler cron or rate expression)."
  type        = string
  default     = "cron(0 1 * * ? *)"
}

variable "timezone" {
  description = "IANA time zone of the schedule expression."
  type        = string
  default     = "UTC"
}

variable "enabled" {
  description = "Whether the schedule fires (turn off to pause retraining without destroying it)."
  type        = bool
  default     = true
}

variable "pipeline_parameters" {
  description = "Pipeline parameters for the scheduled execution (for example ForceRetrain = \"false\")."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key for the schedule and its dead-letter queue."
  type        = string
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
