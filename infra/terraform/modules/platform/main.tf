# The whole platform for one environment: one customer KMS key, the data lake, the two
# image repositories, the private network, serving on EKS and/or ECS Fargate
# (serving_platforms), the IAM roles (SageMaker execution, GitHub deploy, serving IRSA),
# the daily pipeline schedule, alerts, observability, the audit trail and the budget.
# envs/<env> only sets its sizes.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  name          = "${var.name_prefix}-${var.environment}"
  account_id    = data.aws_caller_identity.current.account_id
  region        = data.aws_region.current.region
  partition     = data.aws_partition.current.partition
  lake_bucket   = coalesce(var.lake_bucket_name, "${local.name}-lake-${local.account_id}")
  lake_arn      = "arn:${local.partition}:s3:::${local.lake_bucket}"
  pipeline_arns = [for p in values(var.pipelines) : "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:pipeline/${p}"]
  eks           = contains(var.serving_platforms, "eks")
  ecs           = contains(var.serving_platforms, "ecs")
  # The steps run in separate containers with no shared file: MLflow is a server.
  create_mlflow = var.mlflow_tracking_server_arn == null
  mlflow_arn    = local.create_mlflow ? module.mlflow[0].arn : var.mlflow_tracking_server_arn
  tags = merge(var.tags, {
    Project     = "mlops-platform"
    Environment = var.environment
    ManagedBy   = "terraform"
  })
}

module "kms" {
  source                  = "../kms_key"
  alias                   = local.name
  description             = "mlops-platform ${var.environment}: data lake, images, logs, secrets, alerts"
  deletion_window_in_days = var.kms_deletion_window_days
  service_principals = [
    "cloudtrail.amazonaws.com",
    "events.amazonaws.com",
    "cloudwatch.amazonaws.com",
    "budgets.amazonaws.com",
  ]
  tags = local.tags
}

module "lake" {
  source      = "../s3_bucket"
  name        = local.lake_bucket
  kms_key_arn = module.kms.key_arn
  expire_prefixes = {
    "${var.lake_prefix}/tmp/"       = var.tmp_expiration_days
    "${var.lake_prefix}/sagemaker/" = var.tmp_expiration_days
  }
  transition_prefixes = {
    "${var.lake_prefix}/raw/" = {
      infrequent_access_after_days         = var.raw_infrequent_access_after_days
      glacier_instant_retrieval_after_days = var.raw_glacier_after_days
    }
  }
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  tags                               = local.tags
}

module "ecr" {
  for_each         = toset(["serving", "pipeline"])
  source           = "../ecr_repository"
  name             = "${var.name_prefix}-${each.key}"
  kms_key_arn      = module.kms.key_arn
  keep_last_images = var.ecr_keep_last_images
  tags             = local.tags
}

module "network" {
  source               = "../network"
  name                 = local.name
  cidr_block           = var.vpc_cidr
  az_count             = var.az_count
  endpoint_az_count    = var.endpoint_az_count
  public_load_balancer = var.public_load_balancer
  mlflow_endpoint      = true
  kms_key_arn          = module.kms.key_arn
  log_retention_days   = var.log_retention_days
  tags                 = local.tags
}

# The SageMaker steps reach S3 (gateway endpoint) and the interface endpoints only.
resource "aws_security_group" "pipeline_jobs" {
  #checkov:skip=CKV2_AWS_5:Attached outside Terraform: the compiled SageMaker steps use it (MLOPS_SAGEMAKER_SECURITY_GROUPS).
  name        = "${local.name}-pipeline-jobs"
  description = "SageMaker pipeline steps: HTTPS to the VPC endpoints and S3 only"
  vpc_id      = module.network.vpc_id

  egress {
    description = "HTTPS to the interface endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [module.network.vpc_cidr_block]
  }

  egress {
    description     = "HTTPS to S3 through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [module.network.s3_prefix_list_id]
  }

  tags = local.tags
}

module "mlflow" {
  count          = local.create_mlflow ? 1 : 0
  source         = "../mlflow_tracking_server"
  name           = local.name
  bucket_arn     = module.lake.bucket_arn
  bucket_name    = module.lake.bucket_id
  lake_prefix    = var.lake_prefix
  kms_key_arn    = module.kms.key_arn
  size           = var.mlflow_tracking_server_size
  mlflow_version = var.mlflow_version
  # the daily window: started before the pipelines, stopped after them
  start_schedule_expression = var.mlflow_start_schedule_expression
  stop_schedule_expression  = var.mlflow_stop_schedule_expression
  schedule_timezone         = var.schedule_timezone
  tags                      = local.tags
}

# Athena over the lake: the pipeline publishes its lake tables here (symlink tables
# over the current part files, partitioned; mlops_platform.lake_catalog), so a query
# reads what the lake's manifests name and nothing a commit left half done.
resource "aws_glue_catalog_database" "lake" {
  name        = "${replace(local.name, "-", "_")}_lake"
  description = "mlops-platform ${var.environment}: silver and gold lake tables (published by the pipeline)"
  tags        = local.tags
}

module "sagemaker_role" {
  source                     = "../sagemaker_role"
  name                       = "${local.name}-sagemaker-execution"
  bucket_arn                 = module.lake.bucket_arn
  lake_prefix                = var.lake_prefix
  kms_key_arn                = module.kms.key_arn
  pipeline_repository_arn    = module.ecr["pipeline"].repository_arn
  model_package_groups       = keys(var.pipelines)
  pipeline_arns              = local.pipeline_arns
  mlflow_tracking_server_arn = local.mlflow_arn
  glue_database              = aws_glue_catalog_database.lake.name
  tags                       = local.tags
}

module "github_deploy_role" {
  source               = "../github_deploy_role"
  name                 = "${local.name}-github-deploy"
  github_repository    = var.github_repository
  branches             = var.deploy_branches
  environments         = [var.environment]
  create_oidc_provider = var.create_github_oidc_provider
  repository_arns      = [for r in module.ecr : r.repository_arn]
  kms_key_arn          = module.kms.key_arn
  cluster_arn          = one(module.eks[*].cluster_arn)
  pipeline_names       = values(var.pipelines)
  sagemaker_role_arn   = module.sagemaker_role.role_arn
  tags                 = local.tags
}

module "eks" {
  count                        = local.eks ? 1 : 0
  source                       = "../eks"
  name                         = local.name
  kubernetes_version           = var.kubernetes_version
  vpc_id                       = module.network.vpc_id
  private_subnet_ids           = module.network.private_subnet_ids
  endpoint_public_access       = var.eks_endpoint_public_access
  endpoint_public_access_cidrs = var.eks_endpoint_public_access_cidrs
  kms_key_arn                  = module.kms.key_arn
  log_retention_days           = var.log_retention_days
  capacity_type                = var.node_capacity_type
  instance_types               = var.node_instance_types
  node_min_size                = var.node_min_size
  node_desired_size            = var.node_min_size
  node_max_size                = var.node_max_size
  serving_namespace            = var.serving_namespace
  deploy_role_arns             = { github = module.github_deploy_role.role_arn }
  admin_role_arns              = { for i, arn in var.eks_admin_role_arns : tostring(i) => arn }
  tags                         = local.tags
}

module "serving_irsa_role" {
  count              = local.eks ? 1 : 0
  source             = "../serving_irsa_role"
  name               = "${local.name}-serving"
  oidc_provider_arn  = module.eks[0].oidc_provider_arn
  oidc_provider_host = module.eks[0].oidc_provider_host
  namespace          = var.serving_namespace
  service_account    = "mlops-serving"
  bucket_arn         = module.lake.bucket_arn
  models_prefix      = "${var.lake_prefix}/models"
  kms_key_arn        = module.kms.key_arn
  tags               = local.tags
}

module "schedule" {
  for_each            = var.pipelines
  source              = "../pipeline_schedule"
  name                = "${local.name}-${each.key}-daily"
  pipeline_name       = each.value
  schedule_expression = var.schedule_expression
  timezone            = var.schedule_timezone
  enabled             = var.schedule_enabled
  pipeline_parameters = { ForceRetrain = "false" }
  kms_key_arn         = module.kms.key_arn
  tags                = local.tags
}

module "notifications" {
  source               = "../notifications"
  name                 = "${local.name}-alerts"
  kms_key_arn          = module.kms.key_arn
  email_addresses      = var.alert_emails
  pipeline_arns        = local.pipeline_arns
  model_package_groups = keys(var.pipelines)
  tags                 = local.tags
}

module "observability" {
  source                    = "../observability"
  name                      = local.name
  environment               = var.environment
  cluster_name              = one(module.eks[*].cluster_name)
  serving_namespace         = var.serving_namespace
  serving_log_groups        = local.ecs ? { ecs = module.ecs_service[0].log_group_name } : {}
  kms_key_arn               = module.kms.key_arn
  log_retention_days        = var.log_retention_days
  prediction_classes        = var.prediction_classes
  alarm_topic_arn           = module.notifications.topic_arn
  pipeline_failed_rule_name = module.notifications.pipeline_failed_rule_name
  p99_latency_ms            = var.p99_latency_alarm_ms
  tags                      = local.tags
}

module "audit" {
  source          = "../audit_trail"
  name            = "${local.name}-data-lake"
  log_bucket_name = "${local.name}-audit-${local.account_id}"
  data_bucket_arn = module.lake.bucket_arn
  kms_key_arn     = module.kms.key_arn
  tags            = local.tags
}

module "budget" {
  source                  = "../budget"
  name                    = "${local.name}-monthly"
  environment             = var.environment
  monthly_limit_usd       = var.monthly_budget_usd
  alert_threshold_percent = var.budget_alert_percent
  alert_topic_arn         = module.notifications.topic_arn
  email_addresses         = var.alert_emails
  tags                    = local.tags
}

# The seed's ECS path: the same serving image on Fargate behind an ALB.
module "ecs_service" {
  count                    = local.ecs ? 1 : 0
  source                   = "../ecs_service"
  name                     = local.name
  vpc_id                   = module.network.vpc_id
  private_subnet_ids       = module.network.private_subnet_ids
  load_balancer_subnet_ids = var.public_load_balancer ? module.network.public_subnet_ids : module.network.private_subnet_ids
  internet_facing          = var.public_load_balancer
  allowed_cidrs            = var.ecs_serving.allowed_cidrs
  certificate_arn          = var.ecs_serving.certificate_arn
  image                    = var.ecs_serving.image
  repository_arn           = module.ecr["serving"].repository_arn
  use_cases                = keys(var.pipelines)
  model_store_uri          = "s3://${local.lake_bucket}/${var.lake_prefix}/models"
  bucket_arn               = module.lake.bucket_arn
  models_prefix            = "${var.lake_prefix}/models"
  kms_key_arn              = module.kms.key_arn
  admin_token_secret_arn   = var.ecs_serving.admin_token_secret_arn
  cpu                      = var.ecs_serving.cpu
  memory                   = var.ecs_serving.memory
  min_tasks                = var.ecs_serving.min_tasks
  max_tasks                = var.ecs_serving.max_tasks
  log_retention_days       = var.log_retention_days
  p99_latency_ms           = var.p99_latency_alarm_ms
  alarm_topic_arn          = module.notifications.topic_arn
  deletion_protection      = var.ecs_serving.deletion_protection
  tags                     = local.tags
}
