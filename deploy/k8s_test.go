package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// manifests is every object of deploy/k8s by kind and name, and what kustomization.yaml lists.
type manifests struct {
	byKind    map[string]map[string]object
	resources []string // kustomization.yaml's resources
	files     []string // the YAML files besides kustomization.yaml
}

func readManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{byKind: map[string]map[string]object{}}
	paths, _ := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	for _, p := range paths {
		base := filepath.Base(p)
		if base == "kustomization.yaml" {
			var k struct{ Resources []string }
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &k); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			m.resources = k.Resources
			continue
		}
		m.files = append(m.files, base)
		for _, o := range readObjects(t, p) {
			if o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: a document without kind or metadata.name", base)
				continue
			}
			if o.Kind != "Namespace" && o.Metadata.Namespace != "stagelink" {
				t.Errorf("%s: %s/%s is in namespace %q, want stagelink", base, o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
			if m.byKind[o.Kind] == nil {
				m.byKind[o.Kind] = map[string]object{}
			}
			m.byKind[o.Kind][o.Metadata.Name] = o
		}
	}
	return m
}

// get returns the object of kind and name, failing the test when there is none.
func (m manifests) get(t *testing.T, kind, name string) object {
	t.Helper()
	o, ok := m.byKind[kind][name]
	if !ok {
		t.Fatalf("no %s %q in deploy/k8s", kind, name)
	}
	return o
}

// intOrString is an int, or a string holding one.
func intOrString(v any) (int, bool) {
	switch v := v.(type) {
	case int:
		return v, true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	m := readManifests(t)
	var want []string
	for _, f := range m.files {
		if !strings.HasSuffix(f, ".example.yaml") { // templates are applied by hand, never by kustomize
			want = append(want, f)
		}
	}
	got := slices.Sorted(slices.Values(m.resources))
	if !slices.Equal(got, want) {
		t.Errorf("kustomization.yaml resources %q, want every manifest but the templates: %q", got, want)
	}
}

func TestKubernetesHubDeployments(t *testing.T) {
	m := readManifests(t)
	tests := []struct {
		name     string
		replicas int
		strategy string
		edge     bool // relays video from hub-origin, one pod per node with hostPort UDP
	}{
		{name: "hub", replicas: 0, strategy: "RollingUpdate", edge: true}, // 0: unset, the HPA sets the count
		{name: "hub-origin", replicas: 1, strategy: "Recreate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := as[deployment](t, m.get(t, "Deployment", tt.name))
			pod := d.Spec.Template
			if !selects(d.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
				t.Errorf("selector %v does not select the pod labels %v", d.Spec.Selector.MatchLabels, pod.Metadata.Labels)
			}
			if d.Spec.Replicas != tt.replicas || d.Spec.Strategy.Type != tt.strategy {
				t.Errorf("got %d replicas, strategy %s; want %d, %s", d.Spec.Replicas, d.Spec.Strategy.Type, tt.replicas, tt.strategy)
			}
			if tt.strategy == "RollingUpdate" {
				ru := d.Spec.Strategy.RollingUpdate
				if u, _ := intOrString(ru.MaxUnavailable); u != 0 || ru.MaxUnavailable == nil {
					t.Errorf("maxUnavailable %v, want 0", ru.MaxUnavailable)
				}
				if s, _ := intOrString(ru.MaxSurge); s != 1 {
					t.Errorf("maxSurge %v, want 1", ru.MaxSurge)
				}
			}
			if !pod.Spec.SecurityContext.RunAsNonRoot {
				t.Error("pod securityContext.runAsNonRoot is not true")
			}
			if len(pod.Spec.Containers) != 1 {
				t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
			}
			c := pod.Spec.Containers[0]
			checkHubContainer(t, m, pod.Spec, c)
			env := map[string]string{}
			var fromHost string
			for _, e := range c.Env {
				env[e.Name] = e.Value
				if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
					fromHost = e.Name + "=" + e.ValueFrom.FieldRef.FieldPath
				}
			}
			udp := udpPort(c)
			if tt.edge {
				if env["STAGELINK_VIDEO_ORIGIN"] != "http://hub-origin:8080" {
					t.Errorf("STAGELINK_VIDEO_ORIGIN %q, want http://hub-origin:8080", env["STAGELINK_VIDEO_ORIGIN"])
				}
				if fromHost != "STAGELINK_PUBLIC_IP=status.hostIP" {
					t.Errorf("env from the downward API: %q, want STAGELINK_PUBLIC_IP=status.hostIP", fromHost)
				}
				if udp != "8189/8189" {
					t.Errorf("UDP port (container/host) %q, want 8189/8189: each pod on its node's address", udp)
				}
				anti := pod.Spec.Affinity.PodAntiAffinity.Required
				if len(anti) != 1 || anti[0].TopologyKey != "kubernetes.io/hostname" || !selects(anti[0].LabelSelector.MatchLabels, pod.Metadata.Labels) {
					t.Errorf("required pod anti-affinity %+v, want one hub per kubernetes.io/hostname (hostPort)", anti)
				}
			} else {
				if _, ok := env["STAGELINK_VIDEO_ORIGIN"]; ok {
					t.Error("the origin has STAGELINK_VIDEO_ORIGIN: it would relay from itself")
				}
				if !strings.HasPrefix(udp, "8189/") {
					t.Errorf("UDP port %q, want container port 8189", udp)
				}
			}
		})
	}
}

// udpPort is "containerPort/hostPort" of c's UDP port.
func udpPort(c container) string {
	for _, p := range c.Ports {
		if p.Protocol == "UDP" {
			return fmt.Sprintf("%d/%d", p.ContainerPort, p.HostPort)
		}
	}
	return ""
}

// checkHubContainer checks what every hub container needs: probes, resources, security, volumes, and
// configuration that exists and names only hub flags.
func checkHubContainer(t *testing.T, m manifests, pod podSpec, c container) {
	t.Helper()
	httpPort := ""
	for _, p := range c.Ports {
		if p.ContainerPort == 8080 && p.Protocol == "TCP" {
			httpPort = p.Name
		}
	}
	if httpPort == "" {
		t.Error("no TCP container port 8080")
	}
	for _, p := range []struct {
		name string
		pr   *probe
		path string
	}{{"startupProbe", c.StartupProbe, "/healthz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		switch {
		case p.pr == nil || p.pr.HTTPGet == nil:
			t.Errorf("%s: none, want httpGet %s", p.name, p.path)
		case p.pr.HTTPGet.Path != p.path || (p.pr.HTTPGet.Port != httpPort && p.pr.HTTPGet.Port != 8080):
			t.Errorf("%s: GET %s on port %v, want %s on %q or 8080", p.name, p.pr.HTTPGet.Path, p.pr.HTTPGet.Port, p.path, httpPort)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v, want cpu and memory requests and a memory limit", c.Resources)
	}
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("container securityContext %+v, want allowPrivilegeEscalation false, readOnlyRootFilesystem, drop ALL", sc)
	}
	if c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds <= 0 {
		t.Error("no lifecycle.preStop.sleep: endpoints would still route to a stopping pod")
	} else if g := pod.TerminationGracePeriodSeconds; g < 15 || g <= c.Lifecycle.PreStop.Sleep.Seconds+10 {
		t.Errorf("terminationGracePeriodSeconds %d, want ≥ 15 and room for the %d s preStop sleep and 10 s of shutdown", g, c.Lifecycle.PreStop.Sleep.Seconds)
	}
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v.EmptyDir != nil
	}
	mounts := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		if _, ok := volumes[vm.Name]; !ok {
			t.Errorf("volumeMount %q names no volume", vm.Name)
		}
		mounts[vm.MountPath] = volumes[vm.Name]
	}
	if !mounts["/data"] {
		t.Error("/data is not an emptyDir (the root filesystem is read-only; content lives in MySQL)")
	}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := as[configData](t, m.get(t, "ConfigMap", ef.ConfigMapRef.Name))
			for k := range cm.Data {
				names = append(names, k)
			}
		case ef.SecretRef != nil:
			s := as[configData](t, m.get(t, "Secret", ef.SecretRef.Name))
			for k := range s.StringData {
				names = append(names, k)
			}
		}
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "STAGELINK_") {
			t.Errorf("environment %q is not a STAGELINK_ variable", n)
		}
	}
	checkHubEnv(t, c.Name+" container", names)
}

func TestKubernetesServices(t *testing.T) {
	m := readManifests(t)
	pods := map[string]deployment{}
	for name, o := range m.byKind["Deployment"] {
		pods[name] = as[deployment](t, o)
	}
	udp := 0
	for name, o := range m.byKind["Service"] {
		t.Run(name, func(t *testing.T) {
			s := as[service](t, o)
			var target *deployment
			for _, d := range pods {
				if selects(s.Spec.Selector, d.Spec.Template.Metadata.Labels) {
					target = &d
				}
			}
			if target == nil {
				t.Fatalf("selector %v selects no Deployment's pods", s.Spec.Selector)
			}
			c := target.Spec.Template.Spec.Containers[0]
			for _, p := range s.Spec.Ports {
				found := false
				for _, cp := range c.Ports {
					found = found || (cp.Name == p.TargetPort || cp.ContainerPort == p.TargetPort) && cp.Protocol == p.Protocol
				}
				if !found {
					t.Errorf("port %s targets %v/%s, which the pods do not have", p.Name, p.TargetPort, p.Protocol)
				}
				if p.Protocol == "UDP" {
					udp++
					if s.Spec.Type != "LoadBalancer" && s.Spec.Type != "NodePort" {
						t.Errorf("UDP Service of type %q, want LoadBalancer or NodePort", s.Spec.Type)
					}
					if p.Port != 8189 || target.Spec.Replicas != 1 {
						t.Errorf("UDP port %d in front of %d replicas, want 8189 before exactly one pod (ICE UDP mux)", p.Port, target.Spec.Replicas)
					}
				}
			}
		})
	}
	if udp == 0 {
		t.Error("no UDP Service for WebRTC")
	}
	for _, name := range []string{"hub", "hub-origin"} {
		s := as[service](t, m.get(t, "Service", name))
		if s.Spec.Type != "ClusterIP" || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 8080 {
			t.Errorf("Service %s: type %q, ports %+v; want ClusterIP on 8080 (STAGELINK_VIDEO_ORIGIN, the Ingress)", name, s.Spec.Type, s.Spec.Ports)
		}
	}
}

func TestKubernetesIngress(t *testing.T) {
	m := readManifests(t)
	o := m.get(t, "Ingress", "stagelink")
	a := o.Metadata.Annotations
	const p = "nginx.ingress.kubernetes.io/"
	if a[p+"affinity"] != "cookie" || a[p+"session-cookie-name"] == "" || a[p+"session-cookie-max-age"] == "" {
		t.Errorf("affinity annotations %q, %q, %q; want cookie affinity with a name and a max age",
			a[p+"affinity"], a[p+"session-cookie-name"], a[p+"session-cookie-max-age"])
	}
	for _, k := range []string{"proxy-read-timeout", "proxy-send-timeout"} {
		if n, err := strconv.Atoi(a[p+k]); err != nil || n < 60 {
			t.Errorf("%s %q, want ≥ 60 seconds for WebSockets", k, a[p+k])
		}
	}
	if a[p+"proxy-body-size"] == "" {
		t.Error("no proxy-body-size")
	}
	for _, k := range []string{"limit-rps", "limit-connections"} {
		if n, err := strconv.Atoi(a[p+k]); err != nil || n <= 0 {
			t.Errorf("%s %q, want a per-address limit, as the nginx config has", k, a[p+k])
		}
	}
	// /metrics must not be public: the hubs serve it on a port of its own, which no Service exposes.
	cm := as[configData](t, m.get(t, "ConfigMap", "stagelink-hub"))
	metricsAddr := cm.Data["STAGELINK_METRICS_ADDR"]
	if metricsAddr == "" {
		t.Error("ConfigMap stagelink-hub has no STAGELINK_METRICS_ADDR: /metrics would be served to the Ingress")
	}
	for name, o := range m.byKind["Service"] {
		for _, sp := range as[service](t, o).Spec.Ports {
			if ":"+strconv.Itoa(sp.Port) == metricsAddr || sp.TargetPort == "metrics" || fmt.Sprint(sp.TargetPort) == strings.TrimPrefix(metricsAddr, ":") {
				t.Errorf("Service %s exposes the metrics port", name)
			}
		}
	}
	in := as[ingress](t, o)
	if in.Spec.IngressClassName != "nginx" || len(in.Spec.TLS) == 0 || in.Spec.TLS[0].SecretName == "" {
		t.Errorf("ingressClassName %q, tls %+v; want nginx with a TLS secret", in.Spec.IngressClassName, in.Spec.TLS)
	}
	backends := map[string]string{}
	for _, r := range in.Spec.Rules {
		for _, path := range r.HTTP.Paths {
			svc := path.Backend.Service
			backends[path.Path] = svc.Name
			s := as[service](t, m.get(t, "Service", svc.Name))
			if !slices.ContainsFunc(s.Spec.Ports, func(sp servicePort) bool {
				return sp.Name == svc.Port.Name || sp.Port == svc.Port.Number
			}) {
				t.Errorf("path %s: Service %s has no port %q/%d", path.Path, svc.Name, svc.Port.Name, svc.Port.Number)
			}
		}
	}
	if backends["/"] != "hub" || backends["/whip/"] != "hub-origin" {
		t.Errorf("paths %v, want / to hub and /whip/ to hub-origin", backends)
	}
}

func TestKubernetesPDBAndHPA(t *testing.T) {
	m := readManifests(t)
	hub := as[deployment](t, m.get(t, "Deployment", "hub"))
	origin := as[deployment](t, m.get(t, "Deployment", "hub-origin"))
	p := as[pdb](t, m.get(t, "PodDisruptionBudget", "hub"))
	if !selects(p.Spec.Selector.MatchLabels, hub.Spec.Template.Metadata.Labels) || selects(p.Spec.Selector.MatchLabels, origin.Spec.Template.Metadata.Labels) {
		t.Errorf("PDB selector %v, want the hub pods and not the origin", p.Spec.Selector.MatchLabels)
	}
	minAv, okMin := intOrString(p.Spec.MinAvailable)
	maxUn, okMax := intOrString(p.Spec.MaxUnavailable)
	if !(okMin && minAv == 2 || okMax && maxUn == 1) {
		t.Errorf("PDB minAvailable %v maxUnavailable %v, want minAvailable 2 or maxUnavailable 1", p.Spec.MinAvailable, p.Spec.MaxUnavailable)
	}
	h := as[hpa](t, m.get(t, "HorizontalPodAutoscaler", "hub"))
	ref := h.Spec.ScaleTargetRef
	if m.get(t, "HorizontalPodAutoscaler", "hub").APIVersion != "autoscaling/v2" || ref.Kind != "Deployment" || ref.Name != "hub" || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA targets %+v, want autoscaling/v2 on the Deployment hub", ref)
	}
	if h.Spec.MinReplicas != 3 || h.Spec.MaxReplicas != 10 || len(h.Spec.Metrics) != 1 ||
		h.Spec.Metrics[0].Resource.Name != "cpu" || h.Spec.Metrics[0].Resource.Target.AverageUtilization != 70 {
		t.Errorf("HPA %d–%d on %+v, want 3–10 on CPU at 70 %%", h.Spec.MinReplicas, h.Spec.MaxReplicas, h.Spec.Metrics)
	}
}

func TestKubernetesConfig(t *testing.T) {
	m := readManifests(t)
	for name, o := range m.byKind["ConfigMap"] {
		var keys []string
		for k, v := range as[configData](t, o).Data {
			keys = append(keys, k)
			if looksSecret(k) {
				t.Errorf("ConfigMap %s holds %s=%q: secrets belong in the Secret", name, k, v)
			}
		}
		checkHubEnv(t, "ConfigMap "+name, keys)
	}
	for name, o := range m.byKind["Secret"] {
		if o.file != "secret.example.yaml" {
			t.Errorf("Secret %s in %s: only the template belongs in the repository", name, o.file)
		}
		for k, v := range as[configData](t, o).StringData {
			if !strings.Contains(v, "CHANGE_ME") {
				t.Errorf("Secret %s: %s=%q is no placeholder (want CHANGE_ME in it)", name, k, v)
			}
		}
	}
}

// looksSecret reports whether an environment variable's name says it holds a secret or a URL that may.
func looksSecret(name string) bool {
	for _, s := range []string{"TOKEN", "PASSWORD", "PASS", "SECRET", "CREDENTIAL", "KEY", "_REDIS", "_MYSQL", "_AMQP", "_RTSP"} {
		if strings.Contains(name, s) && !strings.HasSuffix(name, "_PREFIX") {
			return true
		}
	}
	return false
}
