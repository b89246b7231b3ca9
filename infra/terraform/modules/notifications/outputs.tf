output "topic_arn" {
  description = "ARN of the alerts topic."
  value       = aws_sns_topic.this.arn
}

output "pipeline_failed_rule_name" {
  description = "EventBridge rule matching failed pipeline executions (its TriggeredRules metric drives an alarm)."
  value       = aws_cloudwatch_event_rule.pipeline_failed.name
}

output "model_approved_rule_name" {
  description = "EventBridge rule matching approved model packages."
  value       = aws_cloudwatch_event_rule.model_approved.name
}
