package email

import (
	"context"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// conn is one SMTP connection of the pool.
type conn struct {
	c        *smtp.Client
	used     bool      // a transaction ran on it: RSET before the next
	lastUsed time.Time // when it went back to the pool
}

// submit runs one transaction: RSET when the connection was used before, MAIL, RCPT, DATA.
// It returns the stage that failed with the server's error, which is an *smtp.SMTPError
// when the server answered and anything else when the connection broke.
func (c *conn) submit(ctx context.Context, from string, m Mail) (string, error) {
	stop := context.AfterFunc(ctx, c.close) // a cancelled send does not wait on the server
	defer stop()
	if c.used {
		if err := c.c.Reset(); err != nil {
			return "RSET", err
		}
	}
	c.used = true
	if err := c.c.Mail(from, nil); err != nil {
		return "MAIL", err
	}
	if err := c.c.Rcpt(m.To, nil); err != nil {
		return "RCPT", err
	}
	w, err := c.c.Data()
	if err != nil {
		return "DATA", err
	}
	if _, err := w.Write(m.Data); err != nil {
		return "DATA", err
	}
	if _, err := w.CloseWithResponse(); err != nil {
		return "DATA", err
	}
	return "", nil
}

func (c *conn) close() { _ = c.c.Close() }

// pool holds at most size connections, idle or in use. A connection is reused while it is
// fresh (used within idle) and answers RSET; otherwise a new one is dialled.
type pool struct {
	dialFunc func(ctx context.Context) (*smtp.Client, error)
	idle     time.Duration
	sem      chan struct{} // one token per open connection

	mu     sync.Mutex
	free   []*conn
	closed bool
}

func newPool(size int, idle time.Duration, dial func(ctx context.Context) (*smtp.Client, error)) *pool {
	return &pool{dialFunc: dial, idle: idle, sem: make(chan struct{}, size)}
}

// get returns an idle connection, or dials one when fewer than size are open, or waits.
func (p *pool) get(ctx context.Context) (*conn, error) {
	for {
		p.mu.Lock()
		for len(p.free) > 0 {
			c := p.free[len(p.free)-1]
			p.free = p.free[:len(p.free)-1]
			if time.Since(c.lastUsed) <= p.idle {
				p.mu.Unlock()
				return c, nil
			}
			c.quit()
			<-p.sem
		}
		p.mu.Unlock()
		select {
		case p.sem <- struct{}{}:
			c, err := p.dialFunc(ctx)
			if err != nil {
				<-p.sem
				return nil, err
			}
			return &conn{c: c}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
			// A connection may have come back to the pool meanwhile.
		}
	}
}

// put returns a healthy connection to the pool.
func (p *pool) put(c *conn) {
	c.lastUsed = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.quit()
		<-p.sem
		return
	}
	p.free = append(p.free, c)
}

// discard forgets a connection that broke (its caller closed it).
func (p *pool) discard() { <-p.sem }

// close quits every idle connection; connections in use are quit when they come back.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.free {
		c.quit()
		<-p.sem
	}
	p.free = nil
}

// quit ends the session politely, then closes.
func (c *conn) quit() {
	if err := c.c.Quit(); err != nil {
		_ = c.c.Close()
	}
}
