output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "metric_namespace" {
  description = "Namespace of the platform's metrics."
  value       = local.namespace
}

output "serving_log_groups" {
  description = "Log groups whose request lines become the serving metrics (eks, ecs)."
  value       = local.serving_groups
}

output "alarm_names" {
  description = "Names of the alarms."
  value = [
    aws_cloudwatch_metric_alarm.error_rate.alarm_name,
    aws_cloudwatch_metric_alarm.latency_p99.alarm_name,
    aws_cloudwatch_metric_alarm.pipeline_failed.alarm_name,
    aws_cloudwatch_metric_alarm.drift_detected.alarm_name,
  ]
}
