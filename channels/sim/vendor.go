package sim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/herald-msg/herald/channels"
)

// vendor is one simulated vendor API. Each vendor's file registers its own in an init
// function, so adding a vendor touches no other file of the simulator.
type vendor struct {
	// name keys the vendor's rate limit and is the provider name the sim= setting of
	// HERALD_PROVIDERS gives the provider that talks to it; receipts go to
	// {Callback}/callbacks/{channel}/{name}.
	name    string
	channel channels.Channel
	// routes adds the vendor's endpoints to mux.
	routes func(s *Server, mux *http.ServeMux)
	// receipts builds one callback request for a batch of the vendor's due receipts (the
	// values its handlers scheduled); nil for vendors that post none.
	receipts func(s *Server, batch []any) (*http.Request, error)
	// perPost caps the receipts of one callback request (WeChat pushes one event per
	// request); 0 means maxReceiptsPerPost.
	perPost int
	// start, when set, runs once the server is built (a vendor that also listens elsewhere,
	// such as an SMTP server or an MQTT device fleet); its cleanup runs at Close.
	start func(s *Server) (stop func(), err error)
}

// vendors lists the registered vendors in registration order.
var vendors []vendor

// registerVendor adds v; called from init functions.
func registerVendor(v vendor) {
	if slices.ContainsFunc(vendors, func(o vendor) bool { return o.name == v.name }) {
		panic(fmt.Sprintf("sim: vendor %q registered twice", v.name))
	}
	vendors = append(vendors, v)
}

// vendorByName returns the registered vendor called name.
func vendorByName(name string) (vendor, bool) {
	i := slices.IndexFunc(vendors, func(o vendor) bool { return o.name == name })
	if i < 0 {
		return vendor{}, false
	}
	return vendors[i], true
}

// callbackURL is where receipts of the vendor called name, carrying ch, are posted.
func (s *Server) callbackURL(ch channels.Channel, name string) string {
	return s.cfg.Callback + "/callbacks/" + strings.ToLower(string(ch)) + "/" + name
}

// admit takes n messages from the vendor's rate limit (an injected throttle refuses them
// first); false means the vendor must answer with its flow-control error.
func (s *Server) admit(name string, n int) bool {
	return !s.throttle() && s.limits[name].take(n)
}
