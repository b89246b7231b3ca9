output "schedule_arn" {
  description = "ARN of the schedule."
  value       = aws_scheduler_schedule.this.arn
}

output "pipeline_arn" {
  description = "ARN of the pipeline the schedule starts."
  value       = local.pipeline_arn
}

output "dead_letter_queue_arn" {
  description = "Queue receiving schedule invocations that failed after retries."
  value       = aws_sqs_queue.dead_letters.arn
}
