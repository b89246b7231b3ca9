variable "name" {
  description = "Budget name."
  type        = string
}

variable "environment" {
  description = "Value of the Environment cost-allocation tag the budget tracks (activate the tag in Billing first)."
  type        = string
}

variable "monthly_limit_usd" {
  description = "Monthly budget in USD; the platform target is below 500 for all environments together."
  type        = number

  validation {
    condition     = var.monthly_limit_usd > 0 && var.monthly_limit_usd < 500
    error_message = "monthly_limit_usd must be positive and below the 500 USD/month target."
  }
}

variable "alert_threshold_percent" {
  description = "Share of the limit (actual spend) that triggers the first alert."
  type        = number
  default     = 80
}

variable "alert_topic_arn" {
  description = "SNS topic for budget alerts."
  type        = string
}

variable "email_addresses" {
  description = "Addresses alerted directly by AWS Budgets."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
