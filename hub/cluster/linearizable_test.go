package cluster

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"go.etcd.io/bbolt"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
)

// regInput is one register operation: a write of value, or a read.
type regInput struct {
	write bool
	value string
}

// registerModel is a single read/write register (like one lead's status).
var registerModel = porcupine.Model{
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in := input.(regInput)
		if in.write {
			return true, in.value
		}
		return output.(string) == state.(string), state
	},
	DescribeOperation: func(input, output interface{}) string {
		in := input.(regInput)
		if in.write {
			return "write(" + in.value + ")"
		}
		return "read() -> " + fmt.Sprint(output)
	},
}

func TestRegisterModelRejectsStaleRead(t *testing.T) {
	// write(a) completes, then a read that starts later returns "": not linearizable.
	bad := []porcupine.Operation{
		{ClientId: 0, Input: regInput{write: true, value: "a"}, Call: 0, Return: 10},
		{ClientId: 1, Input: regInput{}, Output: "", Call: 20, Return: 30},
	}
	if porcupine.CheckOperations(registerModel, bad) {
		t.Fatal("model accepted a stale read")
	}
}

// TestLinearizableRegister runs concurrent writers and consistent readers on
// every node (and, in the long run, kills the leader midway) and checks the
// history with porcupine.
func TestLinearizableRegister(t *testing.T) {
	clients, opsPer := 6, 40
	kill := !testing.Short()
	if kill {
		opsPer = 120
	}
	c := boot3(t, nil)
	nodes := c.running()
	base := time.Now()
	now := func() int64 { return time.Since(base).Nanoseconds() }

	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	var killOnce sync.Once
	for cl := 0; cl < clients; cl++ {
		wg.Add(1)
		go func(cl int) {
			defer wg.Done()
			for i := 0; i < opsPer; i++ {
				tn := nodes[(cl+i)%len(nodes)]
				if kill && cl == 0 && i == opsPer/2 {
					killOnce.Do(func() {
						mu.Lock()
						defer mu.Unlock()
						if l := c.leader(); l != nil {
							l.stop()
						}
					})
				}
				mu.Lock()
				node := tn.n
				mu.Unlock()
				if node == nil {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if (cl+i)%2 == 0 {
					v := fmt.Sprintf("c%d-%d", cl, i)
					call := now()
					_, err := node.Apply(ctx, &reboundv1.Command{Type: "reg.set", TenantId: "lead-1", Body: []byte(v)})
					ret := now()
					if err != nil {
						// Unknown outcome: it may take effect at any later time.
						ret = math.MaxInt64
					}
					mu.Lock()
					history = append(history, porcupine.Operation{ClientId: cl, Input: regInput{write: true, value: v}, Call: call, Return: ret})
					mu.Unlock()
				} else {
					call := now()
					var got string
					err := node.View(ctx, true, func(tx *bbolt.Tx) error {
						if b := tx.Bucket(bReg); b != nil {
							got = string(b.Get([]byte("lead-1")))
						}
						return nil
					})
					ret := now()
					if err == nil {
						mu.Lock()
						history = append(history, porcupine.Operation{ClientId: cl, Input: regInput{}, Output: got, Call: call, Return: ret})
						mu.Unlock()
					}
				}
				cancel()
			}
		}(cl)
	}
	wg.Wait()
	if len(history) < clients*opsPer/2 {
		t.Fatalf("only %d operations completed", len(history))
	}
	res := porcupine.CheckOperationsTimeout(registerModel, history, 60*time.Second)
	if res != porcupine.Ok {
		t.Fatalf("history of %d operations is not linearizable (result %v)", len(history), res)
	}
}
