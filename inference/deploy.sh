#!/usr/bin/env bash
# Build the inference image, push it to ECR, and create or update a SageMaker real-time endpoint
# serving a registered model through `mlflow deployments` (SageMaker target) with that image.
#
#   inference/deploy.sh --endpoint stylecat-live --model-uri models:/style-cnn@champion \
#       --role-arn arn:aws:iam::123456789012:role/sagemaker-exec --region eu-west-1 \
#       [--instance-type ml.c6i.large] [--instance-count 1] [--tag $(git rev-parse --short HEAD)]
#
# Needs: docker (with an engine), the aws CLI with credentials, and this project's Python
# environment (mlflow with boto3) pointed at the registry (STYLECAT_MLFLOW_TRACKING_URI).
set -euo pipefail

usage() { sed -n '2,13p' "$0"; exit 2; }

endpoint="" model_uri="" role_arn="" region="" instance_type="ml.c6i.large" instance_count=1
tag="$(git rev-parse --short HEAD 2>/dev/null || echo latest)" repository="stylecat-inference"
while [ $# -gt 0 ]; do
  case "$1" in
    --endpoint) endpoint="$2"; shift 2 ;;
    --model-uri) model_uri="$2"; shift 2 ;;
    --role-arn) role_arn="$2"; shift 2 ;;
    --region) region="$2"; shift 2 ;;
    --instance-type) instance_type="$2"; shift 2 ;;
    --instance-count) instance_count="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --repository) repository="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
for required in endpoint model_uri role_arn region; do
  [ -n "${!required}" ] || { echo "missing --${required//_/-}" >&2; usage; }
done

root="$(cd "$(dirname "$0")/.." && pwd)"
account="$(aws sts get-caller-identity --query Account --output text)"
registry="${account}.dkr.ecr.${region}.amazonaws.com"
image="${registry}/${repository}:${tag}"

aws ecr describe-repositories --region "$region" --repository-names "$repository" >/dev/null 2>&1 \
  || aws ecr create-repository --region "$region" --repository-name "$repository" >/dev/null
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker build -f "$root/inference/Dockerfile" -t "$image" "$root"
docker push "$image"

export MLFLOW_TRACKING_URI="${STYLECAT_MLFLOW_TRACKING_URI:?set STYLECAT_MLFLOW_TRACKING_URI to the registry}"
config=(-C "region_name=$region" -C "execution_role_arn=$role_arn" -C "image_url=$image"
        -C "instance_type=$instance_type" -C "instance_count=$instance_count" -C "synchronous=true")
if mlflow deployments get -t "sagemaker:/$region" --name "$endpoint" >/dev/null 2>&1; then
  mlflow deployments update -t "sagemaker:/$region" --name "$endpoint" -m "$model_uri" "${config[@]}"
else
  mlflow deployments create -t "sagemaker:/$region" --name "$endpoint" -m "$model_uri" "${config[@]}"
fi
echo "endpoint $endpoint serves $model_uri with $image"
