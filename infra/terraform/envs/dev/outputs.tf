output "platform" {
  description = "Everything the workflows and docs/deploy.md need: bucket, prefix, roles, repositories, cluster, subnets, topic, dashboard."
  value = {
    lake_bucket                  = module.platform.lake_bucket
    audit_bucket                 = module.platform.audit_bucket
    lake_prefix                  = module.platform.lake_prefix
    ecr_repository_urls          = module.platform.ecr_repository_urls
    ecr_repository_names         = module.platform.ecr_repository_names
    cluster_name                 = module.platform.cluster_name
    serving_role_arn             = module.platform.serving_role_arn
    lb_controller_role_arn       = module.platform.lb_controller_role_arn
    sagemaker_execution_role_arn = module.platform.sagemaker_execution_role_arn
    github_deploy_role_arn       = module.platform.github_deploy_role_arn
    pipeline_subnet_ids          = module.platform.pipeline_subnet_ids
    pipeline_security_group_id   = module.platform.pipeline_security_group_id
    alerts_topic_arn             = module.platform.alerts_topic_arn
    dashboard_name               = module.platform.dashboard_name
    pipeline_names               = module.platform.pipeline_names
    kms_key_arn                  = module.platform.kms_key_arn
  }
}
