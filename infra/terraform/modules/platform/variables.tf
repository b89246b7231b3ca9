variable "environment" {
  description = "Environment name (dev, prod); part of every resource name and the Environment tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters or digits."
  }
}

variable "name_prefix" {
  description = "Prefix of resource names."
  type        = string
  default     = "mlops"
}

variable "lake_bucket_name" {
  description = "Data lake bucket name (MLOPS_LAKE_BUCKET); null: <prefix>-<env>-lake-<account id>."
  type        = string
  default     = null
}

variable "lake_prefix" {
  description = "Key prefix of the lake inside the bucket (MLOPS_LAKE_PREFIX)."
  type        = string
  default     = "mlops"
}

variable "pipelines" {
  description = "Use case (model package group) => SageMaker pipeline name (conf/aws/sagemaker.yml)."
  type        = map(string)
  default     = { retail = "mlops-retail", parking = "mlops-parking", sentiment = "mlops-sentiment" }
}

variable "tmp_expiration_days" {
  description = "Days before objects under <lake prefix>/tmp/ and /sagemaker/ (step scratch) expire."
  type        = number
  default     = 7
}

variable "raw_infrequent_access_after_days" {
  description = "Age at which raw/ objects move to STANDARD_IA."
  type        = number
  default     = 30
}

variable "raw_glacier_after_days" {
  description = "Age at which raw/ objects move to GLACIER_IR."
  type        = number
  default     = 90
}

variable "noncurrent_version_expiration_days" {
  description = "Days a non-current object version is kept in the lake."
  type        = number
  default     = 30
}

variable "ecr_keep_last_images" {
  description = "Images kept per repository."
  type        = number
  default     = 20
}

variable "vpc_cidr" {
  description = "VPC CIDR block."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones used."
  type        = number
  default     = 2
}

variable "endpoint_az_count" {
  description = "Zones with interface endpoints (each endpoint is billed per zone-hour)."
  type        = number
  default     = 2
}

variable "public_load_balancer" {
  description = "Internet-facing serving load balancer (public subnets and an internet gateway); false: internal only."
  type        = bool
  default     = true
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.34"
}

variable "eks_endpoint_public_access" {
  description = "Public Kubernetes API endpoint (restricted to eks_endpoint_public_access_cidrs)."
  type        = bool
  default     = false
}

variable "eks_endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach a public Kubernetes API endpoint."
  type        = list(string)
  default     = []
}

variable "eks_admin_role_arns" {
  description = "IAM roles with cluster-admin access (operators). Required with the EKS path: the cluster creator gets no admin access (access entries only), and someone must install the load balancer controller and create the serving namespace."
  type        = list(string)
  default     = []
  validation {
    condition     = length(var.eks_admin_role_arns) > 0 || !contains(var.serving_platforms, "eks")
    error_message = "eks_admin_role_arns is empty: with serving on EKS nobody could administer the cluster (the creator gets no admin access); name at least one operator role."
  }
}

variable "node_capacity_type" {
  description = "ON_DEMAND or SPOT serving nodes."
  type        = string
  default     = "ON_DEMAND"
}

variable "node_instance_types" {
  description = "Serving node instance types (the first one prices the cost estimate)."
  type        = list(string)
  default     = ["m7i.large"]
}

variable "node_min_size" {
  description = "Minimum (and initial) serving nodes."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum serving nodes."
  type        = number
  default     = 4
}

variable "serving_namespace" {
  description = "Kubernetes namespace of the serving workload (infra/k8s)."
  type        = string
  default     = "mlops-serving"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows deploy."
  type        = string
}

variable "deploy_branches" {
  description = "Branches whose workflows may assume the deploy role."
  type        = list(string)
  default     = ["main"]
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (once per account)."
  type        = bool
  default     = true
}

variable "mlflow_tracking_server_arn" {
  description = "An existing SageMaker managed MLflow tracking server for the pipeline steps (its ARN); null creates one for this environment (mlflow_tracking_server_size)."
  type        = string
  default     = null
}

variable "mlflow_tracking_server_size" {
  description = "Size of the tracking server created when mlflow_tracking_server_arn is null: Small, Medium or Large."
  type        = string
  default     = "Small"
}

variable "mlflow_start_schedule_expression" {
  description = "When the created tracking server is started each day, in schedule_timezone: half an hour before the pipelines (schedule_expression) for its start-up. null: never by schedule (the steps still start it when they find it stopped)."
  type        = string
  default     = "cron(30 0 * * ? *)"
}

variable "mlflow_stop_schedule_expression" {
  description = "When the created tracking server is stopped each day, in schedule_timezone: after the longest pipeline run. null keeps it running all the time (billed every hour). The UI is up only inside the window unless started by hand."
  type        = string
  default     = "cron(30 3 * * ? *)"
}

variable "mlflow_version" {
  description = "MLflow version of the created tracking server, or null for SageMaker's default (the client is MLflow 3.17.2)."
  type        = string
  default     = null
}

variable "schedule_expression" {
  description = "When the pipelines start."
  type        = string
  default     = "cron(0 1 * * ? *)"
}

variable "schedule_timezone" {
  description = "Time zone of schedule_expression."
  type        = string
  default     = "UTC"
}

variable "schedule_enabled" {
  description = "Whether the daily schedule fires."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of every log group of the environment."
  type        = number
  default     = 30
}

variable "prediction_classes" {
  description = "Use case => class code => label for the per-class prediction metrics."
  type        = map(map(string))
  default = {
    retail    = { LA = "High", MM = "Medium", UM = "Low" }
    sentiment = { negative = "Negative", positive = "Positive" }
  }
}

variable "p99_latency_alarm_ms" {
  description = "Serving p99 latency alarm threshold (ms)."
  type        = number
  default     = 100
}

variable "alert_emails" {
  description = "Addresses for alarms, pipeline failures, approvals and budget alerts."
  type        = list(string)
  default     = []
}

variable "monthly_budget_usd" {
  description = "Monthly budget of the environment (USD)."
  type        = number
}

variable "budget_alert_percent" {
  description = "Share of the monthly budget (actual spend) that sends the first alert."
  type        = number
  default     = 80
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the environment's KMS key is deleted after teardown."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "serving_platforms" {
  description = "Where the serving image runs: eks (infra/k8s), ecs (Fargate behind an ALB), or both."
  type        = set(string)
  default     = ["eks"]
  validation {
    condition     = length(var.serving_platforms) > 0 && length(setsubtract(var.serving_platforms, ["eks", "ecs"])) == 0
    error_message = "serving_platforms holds eks, ecs or both."
  }
}

variable "ecs_serving" {
  description = "The ECS path (when serving_platforms has ecs): image by digest, the HTTPS certificate, who may call, task size and count."
  type = object({
    image                  = string
    certificate_arn        = string
    allowed_cidrs          = list(string)
    admin_token_secret_arn = optional(string)
    cpu                    = optional(number, 1024)
    memory                 = optional(number, 2048)
    min_tasks              = optional(number, 2)
    max_tasks              = optional(number, 6)
    # set false (and apply) before destroying the environment
    deletion_protection = optional(bool, true)
  })
  default = null
  validation {
    condition     = var.ecs_serving != null || !contains(var.serving_platforms, "ecs")
    error_message = "serving_platforms has ecs: set ecs_serving (image, certificate_arn, allowed_cidrs)."
  }
}
