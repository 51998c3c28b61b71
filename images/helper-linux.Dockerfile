# The Kubernetes executor's Linux helper (the `inputs` and `outputs` containers: needs sh and tar).
# The default, busybox:1.37, already fits; this pins it for registries that mirror images.
FROM busybox:1.37
USER 65532:65532
