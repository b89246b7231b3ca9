# dev: the smallest platform that still runs every part (two zones, as EKS requires):
# Spot nodes, interface endpoints in one zone, short log retention, a public load
# balancer for the smoke tests, and a 300 USD budget whose first alert (90%, 270 USD)
# sits above docs/cost.md's 222 for the priced items: an alert below the estimate
# would fire every month (the MLflow server and Container Insights are not priced).
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "mlops-platform"
      Environment = "dev"
    }
  }
}

module "platform" {
  source = "../../modules/platform"

  environment       = "dev"
  github_repository = var.github_repository
  alert_emails      = var.alert_emails

  az_count             = 2
  endpoint_az_count    = 1
  public_load_balancer = true

  node_capacity_type  = "SPOT"
  node_instance_types = ["t3.large", "t3a.large", "m7i.large"]
  node_min_size       = 1
  node_max_size       = 3
  eks_admin_role_arns = var.eks_admin_role_arns

  create_github_oidc_provider = true
  log_retention_days          = 14
  monthly_budget_usd          = 300
  budget_alert_percent        = 90
  kms_deletion_window_days    = 7
  ecr_keep_last_images        = 10
}
