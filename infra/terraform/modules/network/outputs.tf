output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets (EKS nodes, SageMaker jobs, endpoints)."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Public subnets for an internet-facing load balancer (empty when public_load_balancer is false)."
  value       = aws_subnet.public[*].id
}

output "interface_endpoint_count" {
  description = "Interface endpoints x zones: the billed endpoint-hours per hour."
  value       = (length(local.interface_svcs) + (var.mlflow_endpoint ? 1 : 0)) * local.endpoint_azs
}

output "s3_prefix_list_id" {
  description = "Prefix list of the S3 gateway endpoint (for security group egress rules)."
  value       = aws_vpc_endpoint.s3.prefix_list_id
}
