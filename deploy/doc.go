// Package deploy holds how stagelink is run in production: the container images (docker/), a compose
// stack (docker-compose.yml), Kubernetes manifests (k8s/), the systemd units of the agents (systemd/) and
// their install script (pi/); its tests check the manifests, units and images.
package deploy
