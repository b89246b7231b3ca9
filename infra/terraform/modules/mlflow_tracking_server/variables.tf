variable "name" {
  description = "Tracking server name (also the prefix of its role's name)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$", var.name))
    error_message = "name must match SageMaker's TrackingServerName pattern: letters, digits and single hyphens between them."
  }
}

variable "bucket_arn" {
  description = "ARN of the data lake bucket."
  type        = string
}

variable "bucket_name" {
  description = "Name of the data lake bucket (the artifact store URI)."
  type        = string
}

variable "lake_prefix" {
  description = "Key prefix of the lake inside the bucket; artifacts go under <prefix>/mlflow/artifacts, where conf/aws/mlflow.yml puts them."
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key of the lake (artifacts are encrypted with it)."
  type        = string
}

variable "size" {
  description = "TrackingServerSize: Small, Medium or Large."
  type        = string
  default     = "Small"

  validation {
    condition     = contains(["Small", "Medium", "Large"], var.size)
    error_message = "size must be Small, Medium or Large."
  }
}

variable "mlflow_version" {
  description = "MLflow version of the server, or null for SageMaker's default. The project's client is MLflow 3.17.2 (constraints.txt): pick the newest version SageMaker offers."
  type        = string
  default     = null
}

variable "weekly_maintenance_window_start" {
  description = "Weekly maintenance window start (UTC), away from the daily pipeline run."
  type        = string
  default     = "Sun:04:00"

  validation {
    condition     = can(regex("^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.weekly_maintenance_window_start))
    error_message = "weekly_maintenance_window_start must look like Sun:04:00."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "start_schedule_expression" {
  description = "When EventBridge Scheduler starts the server each day (before the pipelines, allowing for its start-up), or null: the server is never started by schedule (the steps still start it when they find it stopped)."
  type        = string
  default     = null
}

variable "stop_schedule_expression" {
  description = "When EventBridge Scheduler stops the server each day (after the longest pipeline run), or null: the server runs all the time."
  type        = string
  default     = null
}

variable "schedule_timezone" {
  description = "Time zone of the start and stop expressions."
  type        = string
  default     = "UTC"
}
