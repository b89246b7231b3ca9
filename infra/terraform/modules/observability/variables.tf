variable "name" {
  description = "Prefix of the dashboard, filters and alarms (for example mlops-prod)."
  type        = string
}

variable "environment" {
  description = "Environment name; metrics go to namespace MLOpsPlatform/<environment>."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster whose application log group (Container Insights) holds the serving pods' lines; null without the EKS path."
  type        = string
  default     = null
}

variable "serving_namespace" {
  description = "Kubernetes namespace of the serving pods (the EKS path's pods-unreported alarm)."
  type        = string
  default     = "mlops-serving"
}

variable "serving_log_groups" {
  description = "Other log groups holding the service's request lines (e.g. ecs = the ECS tasks' group): the same metric filters apply."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "KMS key for the log groups."
  type        = string
}

variable "log_retention_days" {
  description = "Retention of the serving and pipeline log groups."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "prediction_classes" {
  description = "Use case => class code => label shown on the dashboard; one metric filter per class (Predicted_<code>)."
  type        = map(map(string))
  default = {
    retail    = { LA = "High", MM = "Medium", UM = "Low" }
    sentiment = { negative = "Negative", positive = "Positive" }
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  type        = string
}

variable "pipeline_failed_rule_name" {
  description = "EventBridge rule matching failed pipeline executions."
  type        = string
}

variable "error_rate_percent" {
  description = "5xx share of requests (percent) that raises the alarm."
  type        = number
  default     = 1
}

variable "p99_latency_ms" {
  description = "p99 latency (ms) that raises the alarm."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
