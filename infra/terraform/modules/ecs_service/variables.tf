variable "name" {
  description = "Name prefix of every resource (e.g. mlops-dev)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the service and its load balancer."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets of the tasks (two zones or more); egress through the VPC endpoints."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 2
    error_message = "The tasks spread over at least two zones: give two private subnets or more."
  }
}

variable "load_balancer_subnet_ids" {
  description = "Subnets of the load balancer: public subnets when internet_facing, else private ones."
  type        = list(string)
  validation {
    condition     = length(var.load_balancer_subnet_ids) >= 2
    error_message = "An Application Load Balancer needs subnets in at least two zones."
  }
}

variable "internet_facing" {
  description = "An internet-facing load balancer (else internal, reached from the VPC)."
  type        = bool
  default     = false
}

variable "allowed_cidrs" {
  description = "Networks allowed to call the load balancer (HTTPS)."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener (plain HTTP only redirects to HTTPS)."
  type        = string
}

variable "image" {
  description = "The serving image by digest (<repository>@sha256:...): a release is a new digest."
  type        = string
  validation {
    condition     = can(regex("@sha256:[0-9a-f]{64}$", var.image))
    error_message = "image must name a digest (<repository>@sha256:<64 hex>), never a mutable tag."
  }
}

variable "repository_arn" {
  description = "ECR repository the tasks pull the image from."
  type        = string
}

variable "use_cases" {
  description = "Use cases the service answers (SERVING_USE_CASES)."
  type        = list(string)
}

variable "model_store_uri" {
  description = "s3://<bucket>/<prefix>/models: the production pointers and model versions."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the lake bucket holding the model store."
  type        = string
}

variable "models_prefix" {
  description = "Key prefix of the model store in the bucket (<lake prefix>/models)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer key of the lake, the images and the logs."
  type        = string
}

variable "admin_token_secret_arn" {
  description = "Secrets Manager secret holding the /admin/reload token; null leaves /admin/reload off."
  type        = string
  default     = null
}

variable "cpu" {
  description = "Task CPU units (1024 = one vCPU)."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 2048
}

variable "min_tasks" {
  description = "Tasks always running (spread over the zones)."
  type        = number
  default     = 2
  validation {
    condition     = var.min_tasks >= 2
    error_message = "At least two tasks, so one zone or one task can fail without an outage."
  }
}

variable "max_tasks" {
  description = "Most tasks autoscaling may run."
  type        = number
  default     = 6
}

variable "cpu_target_percent" {
  description = "Average CPU the target-tracking policy keeps the service at."
  type        = number
  default     = 70
}

variable "log_retention_days" {
  description = "Retention of the service's log group."
  type        = number
}

variable "p99_latency_ms" {
  description = "Alarm when the target response time's p99 stays above this (ms)."
  type        = number
  default     = 300
}

variable "max_5xx_per_5_minutes" {
  description = "Alarm when the load balancer and the tasks answer more 5xx than this in 5 minutes."
  type        = number
  default     = 5
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (turn off before a teardown)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
