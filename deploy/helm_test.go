package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/scim-bridge"

// clusterValues is the external-Redis-Cluster values file CI renders.
var clusterValues = filepath.Join(chartDir, "ci", "external-redis-cluster-values.yaml")

// everyKeyValues uses every key the values schema accepts in a tenant and in
// each connector type.
var everyKeyValues = filepath.Join(chartDir, "ci", "every-config-key-values.yaml")

// rendered is the output of helm template: the documents of each kind.
// objects decodes them strictly, so a field Kubernetes does not know fails.
type rendered map[string][][]byte

// renderedKinds are the kinds the chart may render.
var renderedKinds = []string{"ConfigMap", "Deployment", "Ingress", "NetworkPolicy", "PodDisruptionBudget",
	"Service", "ServiceAccount", "ServiceMonitor", "StatefulSet"}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// objects decodes every rendered document of kind into a T.
func objects[T any](t *testing.T, r rendered, kind string) []T {
	t.Helper()
	var out []T
	for _, doc := range r[kind] {
		var v T
		if err := yaml.UnmarshalStrict(doc, &v); err != nil {
			t.Fatalf("decode %s: %v\n%s", kind, err, doc)
		}
		out = append(out, v)
	}
	return out
}

func renderChart(t *testing.T, valueFiles ...string) rendered {
	t.Helper()
	var args []string
	for _, f := range valueFiles {
		args = append(args, "--values", f)
	}
	return renderRelease(t, "rel", args...)
}

// renderRelease renders the chart as release with further helm template
// arguments (--values, --set).
func renderRelease(t *testing.T, release string, args ...string) rendered {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, chartDir, "--namespace", "idp"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := rendered{}
	for _, doc := range docSeparator.Split(out, -1) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("rendered manifest is not YAML: %v\n%s", err, doc)
		}
		switch {
		case head.Kind == "" && strings.TrimSpace(stripComments(doc)) == "":
		case slices.Contains(renderedKinds, head.Kind):
			r[head.Kind] = append(r[head.Kind], []byte(doc))
		default:
			t.Fatalf("unexpected manifest rendered (kind %q):\n%s", head.Kind, doc)
		}
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func TestHelmLint(t *testing.T) {
	for _, values := range [][]string{nil, {clusterValues}, {everyKeyValues}} {
		args := []string{"lint", chartDir, "--strict"}
		for _, f := range values {
			args = append(args, "--values", f)
		}
		if out, err := helm(t, args...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// chartCase is what one values file must render to.
type chartCase struct {
	name        string
	values      []string
	replicas    int32
	secret      string
	redisURL    string
	bundled     bool
	ingress     bool
	monitor     bool
	tenants     int
	secretsUsed []string // every ${VAR} the ConfigMap references
}

var chartCases = []chartCase{
	{
		name: "default", replicas: 2, secret: "rel-scim-bridge",
		redisURL: "redis://rel-scim-bridge-redis:6379/0", bundled: true,
	},
	{
		name: "external-redis-cluster", values: []string{clusterValues}, replicas: 3,
		secret:   "scim-bridge-secrets",
		redisURL: "rediss://:${REDIS_PASSWORD}@redis-0.redis.data.svc:6379?addr=redis-1.redis.data.svc:6379&addr=redis-2.redis.data.svc:6379",
		ingress:  true, monitor: true, tenants: 2,
		secretsUsed: []string{"ACME_BASIC_PASSWORD", "ACME_SCIM_TOKEN", "ACME_SCIM_TOKEN_NEXT", "AUTHRESS_KEY", "BIMDATA_TOKEN",
			"BIMDATA_WEBHOOK_SECRET", "GLOBEX_SCIM_TOKEN", "ODM_TOKEN", "OKTA_CLIENT_SECRET", "REDIS_PASSWORD"},
	},
	{
		name: "every-config-key", values: []string{everyKeyValues}, replicas: 2, secret: "scim-bridge-secrets",
		redisURL: "redis://rel-scim-bridge-redis:6379/0", bundled: true, tenants: 1,
		secretsUsed: []string{"ACME_BASIC_PASSWORD", "ACME_SCIM_TOKEN", "AUTHRESS_KEY", "AUTHRESS_WEBHOOK_SECRET", "BIMDATA_TOKEN",
			"BIMDATA_WEBHOOK_SECRET", "BIMPLUS_TOKEN", "BIMPLUS_WEBHOOK_SECRET", "ODM_TOKEN", "ODM_WEBHOOK_SECRET", "OKTA_CLIENT_SECRET"},
	},
}

func TestHelmTemplate(t *testing.T) {
	for _, c := range chartCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := renderChart(t, c.values...)
			deployments := objects[appsv1.Deployment](t, r, "Deployment")
			if len(deployments) != 1 {
				t.Fatalf("%d Deployments, want 1", len(deployments))
			}
			d := deployments[0]
			checkDeployment(t, c, d)
			podLabels := d.Spec.Template.Labels
			checkConfigMap(t, c, r, d)
			checkService(t, r, podLabels)
			checkPDB(t, r, podLabels)
			checkNetworkPolicy(t, c, r, podLabels)
			checkRedis(t, c, r)
			checkIngressAndMonitor(t, c, r)
			for _, sa := range objects[corev1.ServiceAccount](t, r, "ServiceAccount") {
				if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
					t.Errorf("ServiceAccount %s mounts its token by default", sa.Name)
				}
			}
		})
	}
}

func checkDeployment(t *testing.T, c chartCase, d appsv1.Deployment) {
	t.Helper()
	if d.Spec.Replicas == nil || *d.Spec.Replicas != c.replicas {
		t.Errorf("replicas = %v, want %d", d.Spec.Replicas, c.replicas)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("strategy = %+v, want RollingUpdate with maxUnavailable 0", d.Spec.Strategy)
	}
	pod := d.Spec.Template.Spec
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < 25 {
		t.Errorf("terminationGracePeriodSeconds = %v, want at least 25 (20 s of draining plus lease release)", g)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token; the bridge never calls the Kubernetes API")
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v, want non-root numeric user and seccomp RuntimeDefault", psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	ct := pod.Containers[0]
	if want := []string{"serve", "--config", "/etc/scim-bridge/bridge.yaml"}; !slices.Equal(ct.Args, want) {
		t.Errorf("args = %q, want %q", ct.Args, want)
	}
	var port corev1.ContainerPort
	for _, p := range ct.Ports {
		if p.Name == "http" {
			port = p
		}
	}
	if port.ContainerPort != 8080 {
		t.Errorf("container port http = %d, want 8080", port.ContainerPort)
	}
	for name, pr := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"liveness": {ct.LivenessProbe, "/healthz"}, "readiness": {ct.ReadinessProbe, "/readyz"}, "startup": {ct.StartupProbe, "/healthz"}} {
		if pr.probe == nil || pr.probe.HTTPGet == nil || pr.probe.HTTPGet.Path != pr.path || pr.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe = %+v, want GET %s on port http", name, pr.probe, pr.path)
		}
	}
	sc := ct.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container securityContext.runAsNonRoot is not true")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container securityContext.readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container securityContext.allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities = %+v, want drop [ALL] and nothing added", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("container seccompProfile = %+v, want RuntimeDefault", sc.SeccompProfile)
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("container is privileged")
	}
	if len(ct.EnvFrom) != 1 || ct.EnvFrom[0].SecretRef == nil || ct.EnvFrom[0].SecretRef.Name != c.secret {
		t.Errorf("envFrom = %+v, want the Secret %q", ct.EnvFrom, c.secret)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range ct.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s is set twice", e.Name)
		}
		env[e.Name] = e
		if e.Value != "" && e.Name != "GOMEMLIMIT" {
			t.Errorf("env %s has a literal value in the pod spec; values come from the Secret", e.Name)
		}
	}
	// Without tenants the default tenant's token must come from the Secret, or
	// the pod must not start: a token generated per replica would be refused
	// by all replicas but one.
	tok, ok := env["SCIM_BRIDGE_TOKEN"]
	switch {
	case c.tenants > 0 && ok:
		t.Errorf("env SCIM_BRIDGE_TOKEN is required although tenants are configured")
	case c.tenants == 0 && (!ok || tok.ValueFrom == nil || tok.ValueFrom.SecretKeyRef == nil):
		t.Errorf("env SCIM_BRIDGE_TOKEN = %+v, want it from the Secret %s (no tenants configured)", tok, c.secret)
	case c.tenants == 0:
		ref := tok.ValueFrom.SecretKeyRef
		if ref.Name != c.secret || ref.Key != "SCIM_BRIDGE_TOKEN" || ref.Optional == nil || *ref.Optional {
			t.Errorf("env SCIM_BRIDGE_TOKEN from %+v, want key SCIM_BRIDGE_TOKEN of the Secret %s with optional: false", ref, c.secret)
		}
	}
	checkGoMemLimit(t, ct)
	if ct.Resources.Requests.Cpu().IsZero() || ct.Resources.Requests.Memory().IsZero() || ct.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v, want cpu and memory requests and a memory limit", ct.Resources)
	}
	mounted := false
	for _, m := range ct.VolumeMounts {
		if m.MountPath == "/etc/scim-bridge" && m.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("volumeMounts = %+v, want the configuration read-only at /etc/scim-bridge", ct.VolumeMounts)
	}
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: a configuration change would not roll the pods")
	}
}

// secretKey names configuration keys whose values are credentials.
var secretKey = regexp.MustCompile(`(?i)(token|tokens|secret|password|key)$`)

// digestRef is a token or password given as its SHA-256 digest (nothing
// usable: fine in a ConfigMap).
var digestRef = regexp.MustCompile(`^(?i)sha256:[0-9a-f]{64}$`)

// redisUserinfo captures the user information of a Redis URL.
var redisUserinfo = regexp.MustCompile(`^rediss?://([^@/]*)@`)

// envRef is a whole-value ${VAR} reference; envRefs finds them inside values.
var (
	envRef  = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`)
	envRefs = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// checkConfigMap asserts the bridge configuration in the ConfigMap mounted by
// d carries no plaintext secret, and returns its text.
func checkConfigMap(t *testing.T, c chartCase, r rendered, d appsv1.Deployment) string {
	t.Helper()
	var cmName string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	var cm *corev1.ConfigMap
	for _, m := range objects[corev1.ConfigMap](t, r, "ConfigMap") {
		if m.Name == cmName {
			cm = &m
		}
	}
	if cm == nil {
		t.Fatalf("the ConfigMap %q the Deployment mounts is not rendered", cmName)
	}
	text, ok := cm.Data["bridge.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no bridge.yaml: %v", cm.Name, cm.Data)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("bridge.yaml is not YAML: %v\n%s", err, text)
	}
	if cfg["listen"] != "0.0.0.0:8080" {
		t.Errorf("listen = %v, want 0.0.0.0:8080", cfg["listen"])
	}
	if cfg["redis"] != c.redisURL {
		t.Errorf("redis = %v, want %s", cfg["redis"], c.redisURL)
	}
	if m := redisUserinfo.FindStringSubmatch(fmt.Sprint(cfg["redis"])); m != nil {
		if _, pw, set := strings.Cut(m[1], ":"); set && !envRef.MatchString(pw) {
			t.Error("the Redis URL in the ConfigMap carries a plaintext password")
		}
	}
	tenants, _ := cfg["tenants"].([]any)
	if len(tenants) != c.tenants {
		t.Errorf("%d tenants, want %d", len(tenants), c.tenants)
	}
	walkScalars(cfg, "", func(path, v string) {
		if secretKey.MatchString(lastKey(path)) && !envRef.MatchString(v) && !digestRef.MatchString(v) {
			t.Errorf("ConfigMap %s: %s holds a plaintext value; secrets must be ${VAR} references or sha256: digests", cm.Name, path)
		}
	})
	if used := envVarsIn(cfg); !slices.Equal(used, c.secretsUsed) {
		t.Errorf("ConfigMap references %q, want %q", used, c.secretsUsed)
	}
	return text
}

// envVarsIn returns the variables ${VAR} references name in the values under
// tree, sorted, each once.
func envVarsIn(tree any) []string {
	var used []string
	walkScalars(tree, "", func(_, v string) {
		for _, m := range envRefs.FindAllStringSubmatch(v, -1) {
			if !slices.Contains(used, m[1]) {
				used = append(used, m[1])
			}
		}
	})
	slices.Sort(used)
	return used
}

// walkScalars calls f with the path and text of every scalar under v.
func walkScalars(v any, path string, f func(path, value string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			walkScalars(e, path+"."+k, f)
		}
	case []any:
		for i, e := range v {
			walkScalars(e, fmt.Sprintf("%s[%d]", path, i), f)
		}
	case nil:
	default:
		f(path, fmt.Sprint(v))
	}
}

// lastKey is the last mapping key of a path such as .tenants[0].scim_tokens[1].
func lastKey(path string) string {
	path = strings.TrimRight(path, "]0123456789[")
	return path[strings.LastIndex(path, ".")+1:]
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func checkService(t *testing.T, r rendered, podLabels map[string]string) {
	t.Helper()
	for _, s := range objects[corev1.Service](t, r, "Service") {
		if !selects(s.Spec.Selector, podLabels) {
			continue
		}
		if len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Name != "http" || s.Spec.Ports[0].TargetPort.String() != "http" {
			t.Errorf("Service %s ports = %+v, want http → http", s.Name, s.Spec.Ports)
		}
		return
	}
	t.Error("no Service selects the bridge's pods")
}

func checkPDB(t *testing.T, r rendered, podLabels map[string]string) {
	t.Helper()
	pdbs := objects[policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget")
	if len(pdbs) != 1 || pdbs[0].Spec.Selector == nil || !selects(pdbs[0].Spec.Selector.MatchLabels, podLabels) {
		t.Fatalf("PodDisruptionBudgets = %+v, want one selecting the bridge's pods", pdbs)
	}
	if mu := pdbs[0].Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 {
		t.Errorf("PDB maxUnavailable = %v, want 1", mu)
	}
}

func checkNetworkPolicy(t *testing.T, c chartCase, r rendered, podLabels map[string]string) {
	t.Helper()
	var np *networkingv1.NetworkPolicy
	for _, p := range objects[networkingv1.NetworkPolicy](t, r, "NetworkPolicy") {
		if selects(p.Spec.PodSelector.MatchLabels, podLabels) {
			np = &p
		}
	}
	if np == nil {
		t.Fatal("no NetworkPolicy selects the bridge's pods")
	}
	ports := map[int]bool{}
	for _, e := range np.Spec.Egress {
		for _, p := range e.Ports {
			ports[p.Port.IntValue()] = true
		}
	}
	for _, want := range []int{53, 6379, 443} {
		if !ports[want] {
			t.Errorf("NetworkPolicy %s allows no egress to port %d (DNS, Redis, HTTPS)", np.Name, want)
		}
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || np.Spec.Ingress[0].Ports[0].Port.String() != "http" {
		t.Errorf("NetworkPolicy ingress = %+v, want the http port only", np.Spec.Ingress)
	}
	if c.name == "external-redis-cluster" && len(np.Spec.Ingress[0].From) != 2 {
		t.Errorf("NetworkPolicy ingress from = %+v, want the two namespaces of the values file", np.Spec.Ingress[0].From)
	}
}

func checkRedis(t *testing.T, c chartCase, r rendered) {
	t.Helper()
	statefulSets := objects[appsv1.StatefulSet](t, r, "StatefulSet")
	if !c.bundled {
		if len(statefulSets) != 0 {
			t.Errorf("%d StatefulSets rendered with an external Redis", len(statefulSets))
		}
		return
	}
	if len(statefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want the bundled Redis", len(statefulSets))
	}
	ss := statefulSets[0]
	ct := ss.Spec.Template.Spec.Containers[0]
	args := strings.Join(ct.Args, " ")
	// maxmemory: 60% of the limit, the rest for the copy-on-write of a fork.
	maxmemory := fmt.Sprintf("--maxmemory %d ", ct.Resources.Limits.Memory().Value()*6/10)
	for _, want := range []string{"--appendonly yes", "--dir /data", maxmemory, "--maxmemory-policy noeviction"} {
		if !strings.Contains(args+" ", want) {
			t.Errorf("bundled Redis args %q lack %q", args, want)
		}
	}
	if p := ct.ReadinessProbe; p == nil || p.Exec == nil || !slices.Equal(p.Exec.Command, []string{"sh", "-c", redisReadyCommand}) {
		t.Errorf("bundled Redis readiness probe = %+v, want sh -c %q (redis-cli exits 0 on LOADING)", p, redisReadyCommand)
	}
	if len(ss.Spec.VolumeClaimTemplates) != 1 || ct.VolumeMounts[0].MountPath != "/data" {
		t.Error("bundled Redis keeps /data on no persistent volume")
	}
	if sc := ct.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("bundled Redis securityContext = %+v, want non-root and read-only root", sc)
	}
	host := strings.TrimPrefix(c.redisURL, "redis://")
	host = host[:strings.Index(host, ":")]
	found := false
	for _, s := range objects[corev1.Service](t, r, "Service") {
		found = found || (s.Name == host && selects(s.Spec.Selector, ss.Spec.Template.Labels))
	}
	if !found {
		t.Errorf("no Service %s selects the bundled Redis", host)
	}
}

func checkIngressAndMonitor(t *testing.T, c chartCase, r rendered) {
	t.Helper()
	ingresses := objects[networkingv1.Ingress](t, r, "Ingress")
	if got := len(ingresses) == 1; got != c.ingress {
		t.Fatalf("%d Ingresses, want ingress %v", len(ingresses), c.ingress)
	}
	if c.ingress {
		var paths []string
		for _, rule := range ingresses[0].Spec.Rules {
			for _, p := range rule.HTTP.Paths {
				paths = append(paths, p.Path)
			}
		}
		if !slices.Equal(paths, []string{"/scim/", "/webhooks/"}) {
			t.Errorf("Ingress paths = %q, want /scim/ and /webhooks/ only (never /metrics or /admin/ by default)", paths)
		}
	}
	monitors := objects[map[string]any](t, r, "ServiceMonitor")
	if got := len(monitors) == 1; got != c.monitor {
		t.Fatalf("%d ServiceMonitors, want monitor %v", len(monitors), c.monitor)
	}
	if c.monitor {
		b, _ := json.Marshal(monitors[0]["spec"])
		if !bytes.Contains(b, []byte(`"path":"/metrics"`)) || !bytes.Contains(b, []byte(`"port":"http"`)) {
			t.Errorf("ServiceMonitor spec = %s, want /metrics on port http", b)
		}
	}
}

// TestHelmSchemaRejects renders every file of testdata/invalid-values; each
// must fail with the schema error its first line ("# want: ...") names.
func TestHelmSchemaRejects(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid-values/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid values files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(b), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("%s: first line is not \"# want: <error text>\"", f)
			}
			out, err := helm(t, "template", "rel", chartDir, "--values", f)
			if err == nil {
				t.Fatalf("helm template accepted %s:\n%s", f, out)
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name the schema violation %q:\n%v", want, err)
			}
			if _, err := helm(t, "lint", chartDir, "--values", f); err == nil {
				t.Errorf("helm lint accepted %s", f)
			}
		})
	}
}
