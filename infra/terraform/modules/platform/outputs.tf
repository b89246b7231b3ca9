output "lake_bucket" {
  description = "Data lake bucket (MLOPS_LAKE_BUCKET)."
  value       = module.lake.bucket_id
}

output "lake_prefix" {
  description = "Lake prefix (MLOPS_LAKE_PREFIX)."
  value       = var.lake_prefix
}

output "kms_key_arn" {
  description = "The environment's KMS key."
  value       = module.kms.key_arn
}

output "ecr_repository_urls" {
  description = "Image repositories by image (serving, pipeline)."
  value       = { for k, r in module.ecr : k => r.repository_url }
}

output "ecr_repository_names" {
  description = "Image repository names by image."
  value       = { for k, r in module.ecr : k => r.repository_name }
}

output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name)."
  value       = one(module.eks[*].cluster_name)
}

output "serving_role_arn" {
  description = "IRSA role for the serving service account annotation (infra/k8s overlay)."
  value       = one(module.serving_irsa_role[*].role_arn)
}

output "vpc_id" {
  description = "The VPC (the load balancer controller's vpcId: it cannot read it from IMDS at hop limit 1)."
  value       = module.network.vpc_id
}

output "lb_controller_role_arn" {
  description = "IRSA role for the AWS Load Balancer Controller."
  value       = one(module.eks[*].lb_controller_role_arn)
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role for the Cluster Autoscaler (docs/deploy.md, step 5)."
  value       = one(module.eks[*].cluster_autoscaler_role_arn)
}

output "sagemaker_execution_role_arn" {
  description = "SageMaker execution role (mlops-sagemaker run --role-arn)."
  value       = module.sagemaker_role.role_arn
}

output "github_deploy_role_arn" {
  description = "Role for the workflows' role-to-assume (repository variable AWS_DEPLOY_ROLE_ARN)."
  value       = module.github_deploy_role.role_arn
}

output "pipeline_subnet_ids" {
  description = "Private subnets for the SageMaker steps (MLOPS_SAGEMAKER_SUBNETS)."
  value       = module.network.private_subnet_ids
}

output "pipeline_security_group_id" {
  description = "Security group of the SageMaker steps (MLOPS_SAGEMAKER_SECURITY_GROUPS)."
  value       = aws_security_group.pipeline_jobs.id
}

output "alerts_topic_arn" {
  description = "SNS topic of alarms, pipeline failures, approvals and budget alerts."
  value       = module.notifications.topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard."
  value       = module.observability.dashboard_name
}

output "pipeline_names" {
  description = "SageMaker pipelines by use case (created by the pipeline workflow, started by the schedules)."
  value       = var.pipelines
}

output "audit_bucket" {
  description = "Bucket of the CloudTrail log files (emptied by teardown before destroy)."
  value       = module.audit.log_bucket_id
}

output "ecs_serving_url" {
  description = "HTTPS address of the ECS service's load balancer (null without the ECS path)."
  value       = one(module.ecs_service[*].url)
}

output "ecs_load_balancer_arn" {
  description = "The ECS path's load balancer (null without it); make teardown lifts its deletion protection."
  value       = one(module.ecs_service[*].load_balancer_arn)
}

output "mlflow_tracking_server_arn" {
  description = "The MLflow tracking server the pipeline steps log to (MLOPS_MLFLOW_TRACKING_URI of the deploy workflow)."
  value       = local.mlflow_arn
}

output "glue_database" {
  description = "The Glue database of the lake tables (MLOPS_GLUE_DATABASE of the deploy workflow; Athena queries it)."
  value       = aws_glue_catalog_database.lake.name
}
