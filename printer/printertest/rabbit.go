package printertest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQPEnv names the broker for the RabbitMQ tests; .ci/run sets it.
const AMQPEnv = "STAGELINK_TEST_AMQP"

// AMQPURL returns the test broker from AMQPEnv, or skips the test saying how to run it.
func AMQPURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(AMQPEnv)
	if u == "" {
		t.Skipf("%s is unset: set it to amqp://guest:guest@127.0.0.1:5672/ to run the RabbitMQ tests", AMQPEnv)
	}
	return u
}

// RabbitPrefix returns a queue-name prefix (printer.RabbitQueueConfig.Prefix) no other test uses, so
// tests running in parallel on one broker do not take each other's jobs, and deletes the queues and
// exchanges under it when the test ends.
func RabbitPrefix(t testing.TB, brokerURL string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	prefix := "stagelink.test." + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := amqp.Dial(brokerURL)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		for _, name := range []string{".jobs", ".dead"} {
			if _, err := ch.QueueDelete(prefix+name, false, false, false); err != nil {
				t.Errorf("cleanup: delete queue %s: %v", prefix+name, err)
			}
		}
		for _, name := range []string{".dlx", ".events"} {
			if err := ch.ExchangeDelete(prefix+name, false, false); err != nil {
				t.Errorf("cleanup: delete exchange %s: %v", prefix+name, err)
			}
		}
	})
	return prefix
}
