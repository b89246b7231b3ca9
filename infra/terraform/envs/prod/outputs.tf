output "platform" {
  description = "Every output of the platform module (bucket, prefix, roles, repositories, cluster, subnets, topic, dashboard): what the workflows' variables and docs/deploy.md use."
  value       = module.platform
}
