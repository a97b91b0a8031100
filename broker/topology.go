package broker

import (
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Queue is a queue name without the configured prefix.
type Queue string

// The lanes every Herald deployment declares.
const (
	// Realtime carries SINGLE and LIST sends; it is a priority queue.
	Realtime Queue = "realtime"
	// Bulk carries the shards of TAG, GROUP and BROADCAST sends; it is a priority queue.
	Bulk Queue = "bulk"
	// Receipts carries provider receipts and engagement events.
	Receipts Queue = "receipts"
)

// MaxPriority is the highest message priority the lanes honour.
const MaxPriority = 10

// dlxName is the dead-letter exchange, without the prefix.
const dlxName = "dlx"

// Dead returns the dead-letter queue of q.
func (q Queue) Dead() Queue { return q + ".dead" }

// QueueSpec describes a durable queue the broker declares on every connect.
type QueueSpec struct {
	// Name is the queue name without the prefix.
	Name Queue
	// MaxPriority enables per-message priority up to this value (0: none).
	MaxPriority uint8
	// DeadLetter gives the queue a Name.dead queue behind the dead-letter exchange.
	DeadLetter bool
	// MessageTTL expires messages after this long (0: never).
	MessageTTL time.Duration
	// ExpireInto moves expired messages into this queue, which turns the
	// queue into a delay queue; it needs MessageTTL and excludes DeadLetter.
	ExpireInto Queue
}

// ErrUnknownQueue is returned for a queue that was never declared.
var ErrUnknownQueue = errors.New("unknown queue")

// builtinSpecs is the topology declared by New.
func builtinSpecs() []QueueSpec {
	return []QueueSpec{
		{Name: Realtime, MaxPriority: MaxPriority, DeadLetter: true},
		{Name: Bulk, MaxPriority: MaxPriority, DeadLetter: true},
		{Name: Receipts, DeadLetter: true},
	}
}

func (s QueueSpec) validate(known func(Queue) bool) error {
	switch {
	case s.Name == "":
		return errors.New("queue name is empty")
	case s.MessageTTL < 0:
		return fmt.Errorf("queue %q: negative message TTL", s.Name)
	case s.MessageTTL > 0 && s.MessageTTL < time.Millisecond:
		return fmt.Errorf("queue %q: message TTL below one millisecond", s.Name)
	case s.ExpireInto != "" && s.MessageTTL == 0:
		return fmt.Errorf("queue %q: expire-into needs a message TTL", s.Name)
	case s.ExpireInto != "" && s.DeadLetter:
		return fmt.Errorf("queue %q: expire-into and dead-letter exclude each other", s.Name)
	case s.ExpireInto == s.Name:
		return fmt.Errorf("queue %q: expires into itself", s.Name)
	case s.ExpireInto != "" && !known(s.ExpireInto):
		return fmt.Errorf("queue %q: expires into %w %q", s.Name, ErrUnknownQueue, s.ExpireInto)
	}
	return nil
}

// name returns the full name of q on the server.
func (b *Broker) name(q Queue) string { return b.cfg.Prefix + string(q) }

// QueueName returns the name of q on the RabbitMQ server, prefix included.
func (b *Broker) QueueName(q Queue) string { return b.name(q) }

// dlx returns the name of the dead-letter exchange.
func (b *Broker) dlx() string { return b.cfg.Prefix + dlxName }

// register adds spec to the topology and reports whether it was new;
// registering an identical spec again is a no-op, a different one under the
// same name is an error.
func (b *Broker) register(spec QueueSpec) (bool, error) {
	b.topoMu.Lock()
	defer b.topoMu.Unlock()
	if err := spec.validate(func(q Queue) bool { _, ok := b.specs[q]; return ok }); err != nil {
		return false, err
	}
	if prev, ok := b.specs[spec.Name]; ok {
		if prev != spec {
			return false, fmt.Errorf("queue %q is already declared with other arguments", spec.Name)
		}
		return false, nil
	}
	if spec.DeadLetter {
		if _, ok := b.specs[spec.Name.Dead()]; ok {
			return false, fmt.Errorf("queue %q is already declared", spec.Name.Dead())
		}
		b.specs[spec.Name.Dead()] = QueueSpec{Name: spec.Name.Dead()}
	}
	b.specs[spec.Name] = spec
	b.order = append(b.order, spec.Name)
	return true, nil
}

// unregister removes a spec the server refused.
func (b *Broker) unregister(spec QueueSpec) {
	b.topoMu.Lock()
	defer b.topoMu.Unlock()
	delete(b.specs, spec.Name)
	if spec.DeadLetter {
		delete(b.specs, spec.Name.Dead())
	}
	for i, q := range b.order {
		if q == spec.Name {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
}

// spec returns the registered spec of q.
func (b *Broker) spec(q Queue) (QueueSpec, bool) {
	b.topoMu.Lock()
	defer b.topoMu.Unlock()
	s, ok := b.specs[q]
	return s, ok
}

// topology returns the registered specs in declaration order.
func (b *Broker) topology() []QueueSpec {
	b.topoMu.Lock()
	defer b.topoMu.Unlock()
	specs := make([]QueueSpec, 0, len(b.order))
	for _, q := range b.order {
		specs = append(specs, b.specs[q])
	}
	return specs
}

// declareAll declares the dead-letter exchange and every registered queue.
func (b *Broker) declareAll(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(b.dlx(), amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("error declaring exchange %s: %w", b.dlx(), err)
	}
	for _, spec := range b.topology() {
		if err := b.declare(ch, spec); err != nil {
			return err
		}
	}
	return nil
}

// declare declares one queue, and its dead-letter queue and binding.
func (b *Broker) declare(ch *amqp.Channel, spec QueueSpec) error {
	name := b.name(spec.Name)
	args := amqp.Table{}
	if spec.MaxPriority > 0 {
		args["x-max-priority"] = int32(spec.MaxPriority)
	}
	if spec.MessageTTL > 0 {
		args["x-message-ttl"] = spec.MessageTTL.Milliseconds()
	}
	if spec.DeadLetter {
		// The routing key is set explicitly so a message dead-letters by the
		// queue it died in, whatever key it was first published with.
		args["x-dead-letter-exchange"] = b.dlx()
		args["x-dead-letter-routing-key"] = name
	}
	if spec.ExpireInto != "" {
		args["x-dead-letter-exchange"] = ""
		args["x-dead-letter-routing-key"] = b.name(spec.ExpireInto)
	}
	if spec.DeadLetter {
		dead := b.name(spec.Name.Dead())
		if _, err := ch.QueueDeclare(dead, true, false, false, false, nil); err != nil {
			return fmt.Errorf("error declaring queue %s: %w", dead, err)
		}
		if err := ch.QueueBind(dead, name, b.dlx(), false, nil); err != nil {
			return fmt.Errorf("error binding queue %s: %w", dead, err)
		}
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		return fmt.Errorf("error declaring queue %s: %w", name, err)
	}
	return nil
}
