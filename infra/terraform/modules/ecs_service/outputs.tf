output "url" {
  description = "HTTPS address of the service (the load balancer's DNS name)."
  value       = "https://${aws_lb.this.dns_name}"
}

output "load_balancer_arn" {
  description = "The load balancer (make teardown turns its deletion protection off)."
  value       = aws_lb.this.arn
}

output "load_balancer_arn_suffix" {
  description = "The load balancer's CloudWatch dimension."
  value       = aws_lb.this.arn_suffix
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.this.name
}

output "task_role_arn" {
  description = "Role of the tasks: reads the model store, nothing else."
  value       = aws_iam_role.task.arn
}

output "log_group_name" {
  description = "Log group of the tasks (one JSON line per request)."
  value       = aws_cloudwatch_log_group.this.name
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the service."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
