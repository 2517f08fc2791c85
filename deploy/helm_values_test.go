package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// valuesFile writes values into a file of the test's and returns its path.
func valuesFile(t *testing.T, values string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(f, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// bridgeContainer is the one container of the one Deployment of r.
func bridgeContainer(t *testing.T, r rendered) (appsv1.Deployment, corev1.Container) {
	t.Helper()
	ds := objects[appsv1.Deployment](t, r, "Deployment")
	if len(ds) != 1 || len(ds[0].Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one Deployment with one container, got %+v", ds)
	}
	return ds[0], ds[0].Spec.Template.Spec.Containers[0]
}

// bridgeConfig is the bridge.yaml of the ConfigMap r renders.
func bridgeConfig(t *testing.T, r rendered) map[string]any {
	t.Helper()
	for _, cm := range objects[corev1.ConfigMap](t, r, "ConfigMap") {
		if text, ok := cm.Data["bridge.yaml"]; ok {
			var cfg map[string]any
			if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
				t.Fatal(err)
			}
			return cfg
		}
	}
	t.Fatal("no ConfigMap holds bridge.yaml")
	return nil
}

// checkGoMemLimit checks the GOMEMLIMIT of the bridge's container: 90% of its
// memory limit in bytes (Kubernetes' own reading of the quantity), none
// without a limit.
func checkGoMemLimit(t *testing.T, ct corev1.Container) {
	t.Helper()
	var got []string
	for _, e := range ct.Env {
		if e.Name == "GOMEMLIMIT" {
			got = append(got, e.Value)
		}
	}
	limit, ok := ct.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		if len(got) != 0 {
			t.Errorf("GOMEMLIMIT = %q without a memory limit", got)
		}
		return
	}
	if want := strconv.FormatInt(limit.Value()*9/10, 10); !slices.Equal(got, []string{want}) {
		t.Errorf("GOMEMLIMIT = %q with a memory limit of %s, want %s (90%%, in bytes)", got, limit.String(), want)
	}
}

// TestHelmGoMemLimit renders memory limits in the forms the schema accepts:
// GOMEMLIMIT is 90% of each in bytes, and the Go runtime of the built binary
// accepts the value (a malformed GOMEMLIMIT stops it at start).
func TestHelmGoMemLimit(t *testing.T) {
	bin := filepath.Join(buildAll(t), "scim-bridge")
	for _, limit := range []string{"1Gi", "3Gi", "700Mi", "1500M", "2.5Gi", "1073741824", "2G"} {
		t.Run(limit, func(t *testing.T) {
			t.Parallel()
			r := renderRelease(t, "rel", "--set", "resources.limits.memory="+limit)
			_, ct := bridgeContainer(t, r)
			q := ct.Resources.Limits[corev1.ResourceMemory]
			if want := resource.MustParse(limit); q.Cmp(want) != 0 {
				t.Fatalf("memory limit = %s, want %s", q.String(), limit)
			}
			checkGoMemLimit(t, ct)
			for _, e := range ct.Env {
				if e.Name != "GOMEMLIMIT" {
					continue
				}
				cmd := exec.Command(bin, "version")
				cmd.Env = append(os.Environ(), "GOMEMLIMIT="+e.Value)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("scim-bridge with GOMEMLIMIT=%s: %v\n%s", e.Value, err, out)
				}
			}
		})
	}
	t.Run("no limit", func(t *testing.T) {
		t.Parallel()
		_, ct := bridgeContainer(t, renderRelease(t, "rel", "--set", "resources.limits=null"))
		checkGoMemLimit(t, ct)
	})
	t.Run("set in extraEnv", func(t *testing.T) {
		t.Parallel()
		_, ct := bridgeContainer(t, renderRelease(t, "rel", "--values", valuesFile(t, "extraEnv: [{name: GOMEMLIMIT, value: 700MiB}]\n")))
		var got []string
		for _, e := range ct.Env {
			if e.Name == "GOMEMLIMIT" {
				got = append(got, e.Value)
			}
		}
		if !slices.Equal(got, []string{"700MiB"}) {
			t.Errorf("GOMEMLIMIT = %q, want only extraEnv's 700MiB", got)
		}
	})
}

// TestHelmServicePort: service.port is the Service's port only. The bridge,
// a non-root process, keeps listening on containerPort (8080): a Service on
// port 80 must not make it bind :80.
func TestHelmServicePort(t *testing.T) {
	for _, c := range []struct {
		name              string
		args              []string
		service, listenOn int
	}{
		{"service port 80", []string{"--set", "service.port=80"}, 80, 8080},
		{"container port 9090", []string{"--set", "containerPort=9090"}, 8080, 9090},
		{"both, with the Ingress", []string{"--set", "service.port=443", "--set", "containerPort=8443", "--set", "ingress.enabled=true",
			"--set", "config.publicURL=https://scim.example.com/scim/v2"}, 443, 8443},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := renderRelease(t, "rel", c.args...)
			_, ct := bridgeContainer(t, r)
			if len(ct.Ports) != 1 || ct.Ports[0].Name != "http" || int(ct.Ports[0].ContainerPort) != c.listenOn {
				t.Errorf("container ports = %+v, want http on %d", ct.Ports, c.listenOn)
			}
			if got, want := bridgeConfig(t, r)["listen"], fmt.Sprintf("0.0.0.0:%d", c.listenOn); got != want {
				t.Errorf("listen = %v, want %s", got, want)
			}
			var svc *corev1.Service
			for _, s := range objects[corev1.Service](t, r, "Service") {
				if s.Name == "rel-scim-bridge" {
					svc = &s
				}
			}
			if svc == nil || len(svc.Spec.Ports) != 1 || int(svc.Spec.Ports[0].Port) != c.service || svc.Spec.Ports[0].TargetPort.String() != "http" {
				t.Fatalf("Service = %+v, want port %d → http", svc, c.service)
			}
			for _, ing := range objects[networkingv1.Ingress](t, r, "Ingress") {
				for _, p := range ing.Spec.Rules[0].HTTP.Paths {
					if b := p.Backend.Service; b == nil || b.Name != svc.Name || int(b.Port.Number) != c.service {
						t.Errorf("Ingress path %s backend = %+v, want the Service's port %d", p.Path, p.Backend, c.service)
					}
				}
			}
		})
	}
}

// TestHelmExtras: extraEnv, extraVolumes and extraVolumeMounts reach the
// bridge's pod (decoded strictly as Kubernetes objects), next to what the
// chart sets itself.
func TestHelmExtras(t *testing.T) {
	r := renderRelease(t, "rel", "--values", valuesFile(t, `
extraEnv:
  - name: GOGC
    value: "200"
  - name: SSL_CERT_DIR
    valueFrom:
      configMapKeyRef: {name: corp-ca, key: dir}
extraVolumes:
  - name: corp-ca
    configMap:
      name: corp-ca
extraVolumeMounts:
  - name: corp-ca
    mountPath: /etc/ssl/corp
    readOnly: true
`))
	d, ct := bridgeContainer(t, r)
	var names []string
	for _, e := range ct.Env {
		names = append(names, e.Name)
	}
	if want := []string{"SCIM_BRIDGE_TOKEN", "GOMEMLIMIT", "GOGC", "SSL_CERT_DIR"}; !slices.Equal(names, want) {
		t.Errorf("env = %q, want %q", names, want)
	}
	var mounts []string
	for _, m := range ct.VolumeMounts {
		mounts = append(mounts, m.Name+":"+m.MountPath)
	}
	if want := []string{"config:/etc/scim-bridge", "corp-ca:/etc/ssl/corp"}; !slices.Equal(mounts, want) {
		t.Errorf("volumeMounts = %q, want %q", mounts, want)
	}
	var volumes []string
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes = append(volumes, v.Name)
	}
	if want := []string{"config", "corp-ca"}; !slices.Equal(volumes, want) {
		t.Errorf("volumes = %q, want %q", volumes, want)
	}
}

// TestHelmLongReleaseName renders with a 51-character release name: every
// name fits in 63 characters, the bundled Redis's StatefulSet in 52 (its pods'
// controller-revision-hash label adds 11), and the bridge's Redis URL names
// the Redis Service that is rendered.
func TestHelmLongReleaseName(t *testing.T) {
	release := strings.Repeat("a", 40) + "-production"
	if len(release) != 51 {
		t.Fatalf("release name of %d characters", len(release))
	}
	r := renderRelease(t, release)
	for kind, docs := range r {
		for _, doc := range docs {
			var o struct {
				Metadata struct {
					Name   string
					Labels map[string]string
				}
			}
			if err := yaml.Unmarshal(doc, &o); err != nil {
				t.Fatal(err)
			}
			if n := len(o.Metadata.Name); n == 0 || n > 63 {
				t.Errorf("%s %q: name of %d characters, want 1 to 63", kind, o.Metadata.Name, n)
			}
			for k, v := range o.Metadata.Labels {
				if len(v) > 63 {
					t.Errorf("%s %s: label %s=%q longer than 63 characters", kind, o.Metadata.Name, k, v)
				}
			}
		}
	}
	ss := objects[appsv1.StatefulSet](t, r, "StatefulSet")
	if len(ss) != 1 || len(ss[0].Name) > 52 {
		var names []string
		for _, s := range ss {
			names = append(names, s.Name)
		}
		t.Fatalf("StatefulSets %q, want one named in at most 52 characters", names)
	}
	host := strings.TrimPrefix(fmt.Sprint(bridgeConfig(t, r)["redis"]), "redis://")
	host, _, _ = strings.Cut(host, ":")
	found := false
	for _, s := range objects[corev1.Service](t, r, "Service") {
		found = found || (s.Name == host && selects(s.Spec.Selector, ss[0].Spec.Template.Labels))
	}
	if !found || ss[0].Spec.ServiceName != host {
		t.Errorf("the bridge's Redis host %q is not the bundled Redis's Service (StatefulSet serviceName %q)", host, ss[0].Spec.ServiceName)
	}
	policies := map[string]bool{}
	for _, p := range objects[networkingv1.NetworkPolicy](t, r, "NetworkPolicy") {
		policies[p.Name] = true
	}
	if len(policies) != 2 {
		t.Errorf("NetworkPolicies %v, want the bridge's and Redis's, named apart", policies)
	}
}
