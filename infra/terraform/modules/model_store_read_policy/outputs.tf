output "json" {
  description = "The policy document (JSON) to attach to a serving role."
  value       = data.aws_iam_policy_document.this.json
}
