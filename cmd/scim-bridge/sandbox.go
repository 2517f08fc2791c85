package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/bridge/auth"
	"github.com/scim-bridge/scim-bridge/bridge/config"
	"github.com/scim-bridge/scim-bridge/connectors"
	"github.com/scim-bridge/scim-bridge/connectors/authress"
	authressfake "github.com/scim-bridge/scim-bridge/connectors/authress/fake"
	"github.com/scim-bridge/scim-bridge/connectors/bimdata"
	bimdatafake "github.com/scim-bridge/scim-bridge/connectors/bimdata/fake"
	"github.com/scim-bridge/scim-bridge/connectors/bimplus"
	bimplusfake "github.com/scim-bridge/scim-bridge/connectors/bimplus/fake"
	scimconn "github.com/scim-bridge/scim-bridge/connectors/scim"
	scimfake "github.com/scim-bridge/scim-bridge/connectors/scim/fake"
)

// sandboxProject is the Bimplus project the sandbox maps its groups to.
const sandboxProject = "b8615afc-99cc-4bcd-b0ca-ff0593ce15c6"

// sandboxCmd runs serve on the embedded store with the four fake downstream
// servers in-process on loopback, preconfigured: one tenant, two mapped groups.
func sandboxCmd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	listen := fs.String("listen", config.DefaultListen, "address of the SCIM endpoint")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	token := e.getenv("SCIM_BRIDGE_TOKEN")
	if token == "" {
		token = randomToken()
	}
	adminToken := e.getenv("SCIM_BRIDGE_ADMIN_TOKEN")
	if adminToken == "" {
		adminToken = randomToken()
	}
	fk := &sandboxFakes{token: randomToken(), webhookSecret: randomToken()}
	if err := fk.start(); err != nil {
		fmt.Fprintf(e.stderr, "scim-bridge sandbox: %v\n", err)
		return 1
	}
	defer fk.close()

	cfg := config.Default()
	cfg.Listen = *listen
	cfg.AdminToken = auth.Token{Value: adminToken}
	cfg.Log.Format = "console"
	cfg.Tenants = []config.Tenant{{
		ID: "sandbox", Credentials: auth.Credentials{Tokens: []auth.Token{{Name: "sandbox", Value: token}}}, ReconcileEvery: config.Duration(time.Hour),
		DeletionThreshold: config.DefaultDeletionThreshold,
		Connectors: []config.Connector{
			{Name: "bimdata", Type: bimdata.Type, Config: &bimdata.Config{Base: fk.base("bimdata", fk.bimdataURL)}},
			{Name: "bimplus", Type: "bimplus", Config: &bimplus.Config{Base: fk.base("bimplus", fk.bimplusURL+"/v2"), Team: "acme",
				Groups: map[string][]bimplus.Grant{
					"Design Team": {{Project: sandboxProject, Role: "Project_Editor"}},
					"Admins":      {{Project: sandboxProject, Role: "Project_Admin"}},
				}}},
			{Name: "authress", Type: authress.Type, Config: &authress.Config{Base: fk.base("authress", fk.authressURL),
				Connection: authress.ConnectionSpec{Type: "oauth2",
					AuthenticationURL: "https://acme.okta.com/oauth2/v1/authorize", TokenURL: "https://acme.okta.com/oauth2/v1/token",
					ClientID: "sandbox-client", ClientSecret: randomToken()}}},
			{Name: "odm", Type: scimconn.Type, Config: &scimconn.Config{Base: fk.base("odm", fk.odmURL+scimfake.DefaultBasePath)}},
		},
	}}
	ready := func(addr string) {
		fmt.Fprintf(e.stdout, `scim-bridge sandbox (embedded store: state is lost on exit)

  SCIM_URL=http://%[1]s/scim/v2
  TOKEN=%[2]s
  SCIM_BRIDGE_ADMIN_TOKEN=%[3]s   # for: scim-bridge status --url http://%[1]s

fake downstream servers (their token: %[4]s):
  bimdata   %[5]s      (GET /identity-provider/invitation, ...)
  bimplus   %[6]s/v2   (GET /v2/acme/projects/%[7]s/members)
  authress  %[8]s      (GET /v1/connections)
  odm       %[9]s%[10]s/Users
webhooks: POST http://%[1]s/webhooks/sandbox/bimdata signed with secret %[11]s
groups "Design Team" and "Admins" map to Bimplus project %[7]s (editor, admin)
`, addr, token, adminToken, fk.token, fk.bimdataURL, fk.bimplusURL, sandboxProject, fk.authressURL, fk.odmURL,
			scimfake.DefaultBasePath, fk.webhookSecret)
	}
	return serveSandbox(ctx, e, cfg, fk, ready)
}

func serveSandbox(ctx context.Context, e env, cfg *config.Config, fk *sandboxFakes, ready func(string)) int {
	log := newLogger(e.stderr, cfg.Log)
	installRedisLogger(log)
	cfg.Tenants[0].Connectors[0].Config.(*bimdata.Config).WebhookSecret = fk.webhookSecret
	return serveConfigWrapped(ctx, e, cfg, log, ready, fk.teamMembership)
}

// sandboxFakes are the four fake downstream servers of the sandbox.
type sandboxFakes struct {
	token, webhookSecret                        string
	bimdata                                     *bimdatafake.Server
	bimplus                                     *bimplusfake.Server
	authress                                    *authressfake.Server
	odm                                         *scimfake.Server
	bimdataURL, bimplusURL, authressURL, odmURL string
	servers                                     []*http.Server

	mu      sync.Mutex
	members map[string]bool
}

func (f *sandboxFakes) base(name, url string) connectors.Base {
	typ := name
	if name == "odm" {
		typ = scimconn.Type
	}
	return connectors.Base{Name: name, Type: typ, URL: url, Token: f.token}
}

func (f *sandboxFakes) start() error {
	f.bimdata = bimdatafake.New(bimdatafake.Options{Token: f.token})
	f.bimplus = bimplusfake.New(bimplusfake.Options{Token: f.token, Team: "acme"})
	f.bimplus.AddProject(sandboxProject)
	f.authress = authressfake.New(authressfake.Options{Token: f.token})
	f.odm = scimfake.New(scimfake.Options{Token: f.token})
	f.members = map[string]bool{}
	for _, s := range []struct {
		h   http.Handler
		url *string
	}{
		{f.bimdata.Handler(), &f.bimdataURL},
		{f.bimplus.Handler(), &f.bimplusURL},
		{f.authress.Handler(), &f.authressURL},
		{f.odm.Handler(), &f.odmURL},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("start fake server: %w", err)
		}
		srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		f.servers = append(f.servers, srv)
		*s.url = "http://" + ln.Addr().String()
	}
	return nil
}

func (f *sandboxFakes) close() {
	for _, s := range f.servers {
		_ = s.Close()
	}
}

// teamMembership makes every user provisioned through SCIM a member of the
// Bimplus team (in real life the team's admin invites people first): it wraps the
// SCIM handler and adds the emails of POSTed and PUT users to the fake team.
func (f *sandboxFakes) teamMembership(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPost || r.Method == http.MethodPut) && strings.HasPrefix(r.URL.Path, "/scim/v2/Users") {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err == nil {
				r.Body = io.NopCloser(bytes.NewReader(body))
				f.addMembers(body)
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (f *sandboxFakes) addMembers(body []byte) {
	var u struct {
		UserName string `json:"userName"`
		Emails   []struct {
			Value string `json:"value"`
		} `json:"emails"`
	}
	if json.Unmarshal(body, &u) != nil {
		return
	}
	emails := []string{}
	for _, em := range u.Emails {
		emails = append(emails, em.Value)
	}
	if len(emails) == 0 && strings.Contains(u.UserName, "@") {
		emails = append(emails, u.UserName)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, em := range emails {
		k := strings.ToLower(em)
		if em != "" && !f.members[k] {
			f.members[k] = true
			f.bimplus.AddTeamMember(em)
		}
	}
}
