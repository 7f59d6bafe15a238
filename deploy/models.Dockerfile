# The demo SavedModels as an image, so a Kubernetes initContainer can copy them
# into the TF Serving pod's model volume (see deploy/kubernetes/base). Real
# deployments replace it with their own model image, a volume, or gs:// / s3://
# base paths in models.config. Build from the repository root:
#   docker build -f deploy/models.Dockerfile -t tfs-gateway-demo-models .

FROM busybox:1.36
COPY demo/models/ /models/
USER 65534:65534
