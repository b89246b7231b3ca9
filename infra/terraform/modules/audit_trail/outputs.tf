output "trail_arn" {
  description = "ARN of the trail."
  value       = aws_cloudtrail.this.arn
}

output "log_bucket_id" {
  description = "Bucket holding the trail's log files."
  value       = module.log_bucket.bucket_id
}
