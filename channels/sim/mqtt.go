package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/herald-msg/herald/channels"
	"github.com/herald-msg/herald/channels/push"
)

func init() {
	registerVendor(vendor{
		name:    vendorMQTT,
		channel: channels.AppPush,
		routes:  func(*Server, *http.ServeMux) {}, // the fleet speaks MQTT only
		start:   startMQTTFleet,
	})
}

const (
	vendorMQTT = "mqtt"
	// mqttWait bounds the simulator's waits on the broker.
	mqttWait = 10 * time.Second
	// mqttRejectReason is the reason a failing test device gives in its FAILED ack.
	mqttRejectReason = "DEVICE_REJECTED: the device refused the message"
)

// mqttFleet is a simulated fleet of devices behind one MQTT connection: it takes every
// message published under <prefix>/push/+ and acknowledges it on <prefix>/ack/<device>.
type mqttFleet struct {
	s      *Server
	prefix string
	client mqtt.Client
	ctx    context.Context
}

// startMQTTFleet connects the fleet when Config.MQTTBroker is set; it returns once the
// subscription is in place, so nothing published afterwards is missed.
func startMQTTFleet(s *Server) (func(), error) {
	if s.cfg.MQTTBroker == "" {
		return func() {}, nil
	}
	ctx, cancel := context.WithCancel(s.ctx)
	f := &mqttFleet{s: s, prefix: s.cfg.MQTTPrefix, ctx: ctx}
	var b [6]byte
	_, _ = rand.Read(b[:])
	filter := push.PushTopic(f.prefix, "+")
	opts := mqtt.NewClientOptions().
		AddBroker(s.cfg.MQTTBroker).
		SetClientID("herald-sim-devices-" + hex.EncodeToString(b[:])).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetOrderMatters(false).
		SetConnectTimeout(mqttWait).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(filter, 1, f.onPush) // again after a reconnect: the session was clean
		})
	f.client = mqtt.NewClient(opts)
	if tok := f.client.Connect(); !tok.WaitTimeout(mqttWait) || tok.Error() != nil {
		cancel()
		return nil, fmt.Errorf("connecting the device fleet to %s: %v", s.cfg.MQTTBroker, tokenErr(tok))
	}
	if tok := f.client.Subscribe(filter, 1, f.onPush); !tok.WaitTimeout(mqttWait) || tok.Error() != nil {
		cancel()
		f.client.Disconnect(0)
		return nil, fmt.Errorf("subscribing the device fleet to %s: %v", filter, tokenErr(tok))
	}
	s.logger.Info("simulated device fleet connected", "broker", s.cfg.MQTTBroker, "topics", filter)
	return func() {
		cancel()
		f.client.Disconnect(100)
	}, nil
}

func tokenErr(tok mqtt.Token) error {
	if err := tok.Error(); err != nil {
		return err
	}
	return fmt.Errorf("no answer within %s", mqttWait)
}

// onPush is a device receiving a message: the test device ids apply (containing "fail":
// FAILED ack, as MQTT itself has no permanent error; "silent": no ack; "slow": the
// DELIVERED ack after SlowDelay), an ordinary device picked by the undelivered rate sends a
// FAILED ack, then DISPLAYED and CLICKED follow at the configured rates.
func (f *mqttFleet) onPush(_ mqtt.Client, m mqtt.Message) {
	device, ok := strings.CutPrefix(m.Topic(), f.prefix+"/push/")
	var p push.DevicePush
	if !ok || push.ValidDeviceID(device) != nil || json.Unmarshal(m.Payload(), &p) != nil || p.ID == "" {
		f.s.logger.Warn("device fleet: unreadable message", "topic_prefix", f.prefix, "bytes", len(m.Payload()))
		return
	}
	s := f.s
	b := addressBehavior(device)
	if b == reject {
		s.store.add(rejected, channels.AppPush, 1)
		f.ackAfter(s.cfg.ReceiptDelay, device, push.DeviceAck{ID: p.ID, Status: channels.Failed, Reason: mqttRejectReason})
		return
	}
	content := p.Body
	if p.Title != "" {
		content = p.Title + "\n" + p.Body
	}
	undeliv := b == deliver && s.undelivered(channels.AppPush, p.ID)
	s.store.record(Message{Channel: channels.AppPush, Address: device, Content: content, ReceivedAt: time.Now(),
		MessageID: p.ID, Behavior: behaviorName(b, undeliv)})
	if b == silent {
		return
	}
	delay := s.cfg.ReceiptDelay
	if b == slow {
		delay = s.cfg.SlowDelay
	}
	if undeliv {
		f.ackAfter(delay, device, push.DeviceAck{ID: p.ID, Status: channels.Failed, Reason: undelivMQTTReason})
		return
	}
	f.ackAfter(delay, device, push.DeviceAck{ID: p.ID, Status: channels.Delivered})
	if s.cfg.DisplayRate <= 0 || mrand.Float64() >= s.cfg.DisplayRate {
		return
	}
	delay += s.cfg.ReceiptDelay
	f.ackAfter(delay, device, push.DeviceAck{ID: p.ID, Status: channels.Displayed})
	if s.cfg.ClickRate <= 0 || mrand.Float64() >= s.cfg.ClickRate {
		return
	}
	f.ackAfter(delay+s.cfg.ReceiptDelay, device, push.DeviceAck{ID: p.ID, Status: channels.Clicked})
}

// ackAfter publishes ack on the device's ack topic after delay, unless the fleet stopped.
func (f *mqttFleet) ackAfter(delay time.Duration, device string, ack push.DeviceAck) {
	time.AfterFunc(delay, func() {
		if f.ctx.Err() != nil {
			return
		}
		ack.At = time.Now().UTC()
		body, _ := json.Marshal(ack)
		tok := f.client.Publish(push.AckTopic(f.prefix, device), 1, false, body)
		if !tok.WaitTimeout(mqttWait) || tok.Error() != nil {
			f.s.store.add(receiptsDropped, channels.AppPush, 1)
			if f.ctx.Err() == nil {
				f.s.logger.Warn("device fleet: ack not published", "device", maskAddress(device), "error", tokenErr(tok))
			}
			return
		}
		f.s.store.add(receiptsPosted, channels.AppPush, 1)
	})
}
