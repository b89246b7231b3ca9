variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows deploy here."
  type        = string
}

variable "alert_emails" {
  description = "Addresses for alarms, pipeline failures, approvals and budget alerts."
  type        = list(string)
  default     = []
}

variable "eks_admin_role_arns" {
  description = "IAM roles with cluster-admin access (operators)."
  type        = list(string)
  default     = []
}
