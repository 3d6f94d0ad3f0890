package env

import (
	"context"
	"net"
	"time"
)

// After is time.After on c.
func After(c Clock, d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Sleep waits d on c, or until ctx is done (then it returns ctx's error).
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Since is time.Since on c.
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Dialer returns a DialContext for http.Transport and the like that dials
// on n and gives up after timeout (0 = only ctx bounds it).
func Dialer(n Network, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		return n.DialContext(ctx, network, addr)
	}
}

type networkKey struct{}

// WithNetwork returns a context whose dials (DialContext below) go through
// n. The harness puts a simulated deployment's network there, so that a
// system's clients, written once with DialContext as their dialer, reach
// processes on the real network and simulated nodes alike.
func WithNetwork(ctx context.Context, n Network) context.Context {
	return context.WithValue(ctx, networkKey{}, n)
}

// NetworkOf is the network ctx carries, the OS's if none.
func NetworkOf(ctx context.Context) Network {
	if n, ok := ctx.Value(networkKey{}).(Network); ok {
		return n
	}
	return osEnv{}
}

// DialContext dials through the network ctx carries (WithNetwork), the
// OS's if none: the dialer for a client's http.Transport.
func DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return NetworkOf(ctx).DialContext(ctx, network, addr)
}

// ContextDialer is Dialer on the network ctx carries (NetworkOf), for a
// client made before it knows where it will run.
func ContextDialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return Dialer(NetworkOf(ctx), timeout)(ctx, network, addr)
	}
}
