package dns_test

import (
	"context"
	"log"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	tugdns "github.com/tugboat-io/tug/core/proxy/dns"
)

// The node proxy shares its informer factory with DNS: the server gets listers and reports
// SERVFAIL for cluster names until the caches have synced.
func Example() {
	client := fake.NewClientset() // the node's clientset in tug
	factory := informers.NewSharedInformerFactory(client, 0)
	services := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()
	synced := func() bool { return services.Informer().HasSynced() && slices.Informer().HasSynced() }

	srv, err := tugdns.New(tugdns.Config{
		Listen:    []string{"127.0.0.1:0"},
		Upstreams: []string{"192.0.2.53"}, // default: the node's /etc/resolv.conf
		HasSynced: synced,
	}, services.Lister(), slices.Lister())
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done()) // after the listers were asked for, so their informers start
	go func() {
		if err := srv.Run(ctx); err != nil {
			log.Print(err)
		}
	}()
	<-srv.Ready()
	log.Printf("cluster DNS on %v", srv.Addrs())
}
