#!/usr/bin/env bash
# Push a locally loaded image to ECR under an immutable tag and print its digest
# reference (repository@sha256:...). Re-running for the same tag (a re-run workflow)
# does not push again: ECR tags are immutable, so the existing digest is printed.
#   infra/scripts/push-image.sh <local image> <registry>/<repository> <tag>
set -euo pipefail
local_image=$1 repository_uri=$2 tag=$3
repository=${repository_uri#*/}
if digest=$(aws ecr describe-images --repository-name "$repository" \
    --image-ids "imageTag=$tag" --query 'imageDetails[0].imageDigest' --output text 2>/dev/null); then
  echo "tag $tag already in $repository ($digest): not pushing again" >&2
else
  docker tag "$local_image" "$repository_uri:$tag"
  docker push "$repository_uri:$tag" >&2
  digest=$(aws ecr describe-images --repository-name "$repository" \
    --image-ids "imageTag=$tag" --query 'imageDetails[0].imageDigest' --output text)
fi
echo "$repository_uri@$digest"
