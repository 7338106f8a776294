package main

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// The simulation: one business day (07:00 to 19:00, Eastern time) of a
// dealership group's CRM. Customers walk in or book service on the web,
// vehicles arrive in inventory and are sold, service appointments move through
// their statuses, and batch jobs change many rows at once (the morning
// inventory import, the reminder job that confirms appointments, the afternoon
// price sync, the evening loyalty recalculation): these make the bursts.
//
// Actions run in time order; each is one database transaction of one or more
// changes, captured by Debezium in commit order. Every row is created within
// the day, so its first event is a create, and a delete is its last.

// change is one captured row change, or a tombstone (op "").
type change struct {
	table  string
	op     string // c, u, d; "" for the tombstone after a delete
	id     int
	before any
	after  any
}

// event is a well-formed record of the sample set.
type event struct {
	change
	timestamp time.Time // the Kafka record's timestamp
	payload   *payload  // nil for a tombstone
}

// action is something that happens at a time.
type action struct {
	at  int64 // ms since the start of the day
	seq int   // ties broken by scheduling order
	run func(now int64)
}

type actionQueue []*action

func (q actionQueue) Len() int { return len(q) }
func (q actionQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}
func (q actionQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *actionQueue) Push(x any)   { *q = append(*q, x.(*action)) }
func (q *actionQueue) Pop() any {
	old := *q
	a := old[len(old)-1]
	*q = old[:len(old)-1]
	return a
}

// Statuses of vehicles and appointments that the simulation tests.
const (
	statusInStock   = "in_stock"
	statusScheduled = "scheduled"
	statusCancelled = "cancelled"
)

type customer struct {
	row      customerRow
	deleted  bool
	refs     int // vehicles and appointments that point at it
	vehicles []int
	visits   int // appointments and purchases today
}

type vehicle struct {
	row     vehicleRow
	deleted bool
	refs    int
}

type appointment struct {
	row     appointmentRow
	deleted bool
}

type sim struct {
	r     *rand.Rand
	start time.Time // 07:00 Eastern, as UTC
	scale float64

	queue actionQueue
	seq   int

	lsn        uint64
	lastCommit int64 // commit time of the last transaction, Unix ms
	lastTsMs   int64 // capture time of the last change, Unix ms
	lastRecord time.Time

	nextCustomer, nextVehicle, nextAppointment int
	customers                                  map[int]*customer
	customerIDs                                []int // in creation order
	vehicles                                   map[int]*vehicle
	vehicleIDs                                 []int
	appointments                               map[int]*appointment
	appointmentIDs                             []int

	events []event
}

const (
	minute = int64(time.Minute / time.Millisecond)
	hour   = int64(time.Hour / time.Millisecond)
	day    = 12 * hour
)

func newSim(seed uint64, start time.Time, scale float64) *sim {
	return &sim{
		r:     rand.New(rand.NewPCG(seed, 0x5eed_c0de)), //nolint:gosec // G404: reproducible sample data, not secrets
		start: start, scale: scale,
		nextCustomer: 1001, nextVehicle: 40001, nextAppointment: 700001,
		customers: map[int]*customer{}, vehicles: map[int]*vehicle{}, appointments: map[int]*appointment{},
	}
}

func (s *sim) at(t int64, run func(now int64)) {
	s.seq++
	heap.Push(&s.queue, &action{at: t, seq: s.seq, run: run})
}

// run plays the day and returns its events, in the order Debezium captured them.
func (s *sim) run() []event {
	s.plan()
	for s.queue.Len() > 0 {
		a := heap.Pop(&s.queue).(*action)
		if a.at >= day {
			break
		}
		a.run(a.at)
	}
	return s.events
}

// intensity is the relative activity by hour of the day (from 07:00).
var intensity = []float64{0.5, 1.3, 1.5, 1.2, 1.0, 0.8, 1.0, 1.1, 1.2, 1.4, 1.3, 0.6}

// arrivals returns the times of n expected arrivals over the day, following intensity (thinning).
func (s *sim) arrivals(n float64) []int64 {
	maxI := 0.0
	sum := 0.0
	for _, v := range intensity {
		maxI = math.Max(maxI, v)
		sum += v
	}
	rate := n * s.scale * maxI / sum / float64(hour) // candidates per ms at the peak
	var out []int64
	for t := 0.0; ; {
		t += s.r.ExpFloat64() / rate
		if t >= float64(day) {
			return out
		}
		if s.r.Float64()*maxI < intensity[int(t)/int(hour)] {
			out = append(out, int64(t))
		}
	}
}

func (s *sim) plan() {
	for _, t := range s.arrivals(470) {
		s.at(t, s.booking)
	}
	for _, t := range s.arrivals(250) {
		s.at(t, s.lead)
	}
	for _, t := range s.arrivals(300) {
		s.at(t, s.customerUpdate)
	}
	for _, t := range s.arrivals(95) {
		s.at(t, func(now int64) { s.inventoryArrival(now, 1) })
	}
	for _, t := range s.arrivals(75) {
		s.at(t, s.sale)
	}
	// Batch jobs: one transaction each.
	s.at(30*minute, func(now int64) { s.inventoryArrival(now, int(68*s.scale)) }) // 07:30 DMS import of a truck delivery
	s.at(5*hour, s.confirmAppointments)                                           // 12:00 reminder job
	s.at(8*hour, s.priceSync)                                                     // 15:00 OEM price sync
	s.at(10*hour, s.confirmAppointments)                                          // 17:00 reminder job
	s.at(11*hour, s.loyaltyRecalculation)                                         // 18:00
}

// --- transactions ---

type tx struct {
	s       *sim
	now     int64
	changes []change
}

func (s *sim) begin(now int64) *tx { return &tx{s: s, now: now} }

func (t *tx) add(table, op string, id int, before, after any) {
	t.changes = append(t.changes, change{table: table, op: op, id: id, before: before, after: after})
}

// commit captures the transaction's changes as Debezium does: in commit
// order, after the SQL Server capture job and the connector's poll picked
// them up (about 0.5 to 3 s later), at a few thousand changes per second.
func (t *tx) commit() {
	s := t.s
	if len(t.changes) == 0 {
		return
	}
	commitTs := max(s.lastCommit, s.start.UnixMilli()+t.now+s.r.Int64N(1000))
	s.lastCommit = commitTs
	firstLSN := s.lsn + 1
	s.lsn += uint64(len(t.changes)) + 1
	commitLSN := lsn(s.lsn)
	captured := max(s.lastTsMs, commitTs+500+int64(s.r.ExpFloat64()*800))
	for i, c := range t.changes {
		tsMs := captured + int64(i)/4
		serial := 1
		if c.op == "u" {
			serial = 2 // SQL Server CDC writes an update as a before row (1) and an after row (2)
		}
		p := &payload{
			Before: c.before, After: c.after, Op: c.op, TsMs: tsMs,
			Source: sourceInfo{
				Version: debeziumVersion, Connector: "sqlserver", Name: serverName, TsMs: commitTs,
				Snapshot: "false", DB: databaseName, Schema: schemaName, Table: c.table,
				ChangeLSN: lsn(firstLSN + uint64(i)), CommitLSN: commitLSN, EventSerialNo: serial,
			},
		}
		ts := time.UnixMilli(tsMs + 1 + s.r.Int64N(4)).UTC()
		if ts.Before(s.lastRecord) {
			ts = s.lastRecord
		}
		s.lastRecord = ts
		s.events = append(s.events, event{change: c, timestamp: ts, payload: p})
		if c.op == "d" {
			s.events = append(s.events, event{change: change{table: c.table, id: c.id}, timestamp: ts})
		}
		s.lastTsMs = tsMs
	}
}

func (s *sim) ms(now int64) int64 { return s.start.UnixMilli() + now }

// --- customers ---

func (s *sim) newCustomer(t *tx) *customer {
	first, last := pick(s.r, firstNames), pick(s.r, lastNames)
	c := &customer{row: customerRow{
		ID: s.nextCustomer, FirstName: first, LastName: last, Email: email(s.r, first, last),
		LoyaltyTier: "standard", MarketingOptIn: s.r.IntN(3) == 0,
		CreatedAt: s.ms(t.now), UpdatedAt: s.ms(t.now),
	}}
	if s.r.IntN(10) < 8 {
		c.row.Phone = ptr(phone(s.r))
	}
	if s.r.IntN(10) < 7 {
		c.row.City = ptr(pick(s.r, cities))
	}
	s.nextCustomer++
	s.customers[c.row.ID] = c
	s.customerIDs = append(s.customerIDs, c.row.ID)
	after := c.row
	t.add(tCustomers, "c", c.row.ID, nil, &after)
	return c
}

func (s *sim) updateCustomer(t *tx, c *customer, mutate func(*customerRow)) {
	before := c.row
	mutate(&c.row)
	c.row.UpdatedAt = s.ms(t.now)
	after := c.row
	t.add(tCustomers, "u", c.row.ID, &before, &after)
}

// randomCustomer returns a live customer, favouring recent ones, or nil.
func (s *sim) randomCustomer() *customer {
	for range 10 {
		n := len(s.customerIDs)
		if n == 0 {
			return nil
		}
		i := n - 1 - min(n-1, int(s.r.ExpFloat64()*float64(n)/3))
		if c := s.customers[s.customerIDs[i]]; !c.deleted {
			return c
		}
	}
	return nil
}

// lead: a showroom visitor or a web lead, followed by corrections and, for duplicates, a delete.
func (s *sim) lead(now int64) {
	t := s.begin(now)
	c := s.newCustomer(t)
	t.commit()
	if s.r.IntN(10) < 3 {
		s.at(now+s.r.Int64N(3*hour)+2*minute, func(now int64) { s.contactCorrection(now, c) })
	}
	if s.r.IntN(100) < 6 { // a duplicate of an existing customer, merged and deleted by the CRM's dedupe
		s.at(now+10*minute+s.r.Int64N(4*hour), func(now int64) {
			if c.deleted || c.refs > 0 {
				return
			}
			t := s.begin(now)
			before := c.row
			c.deleted = true
			t.add(tCustomers, "d", c.row.ID, &before, nil)
			t.commit()
		})
	}
}

func (s *sim) contactCorrection(now int64, c *customer) {
	if c.deleted {
		return
	}
	t := s.begin(now)
	s.updateCustomer(t, c, func(r *customerRow) {
		if s.r.IntN(2) == 0 {
			r.Phone = ptr(phone(s.r))
		} else {
			r.Email = email(s.r, r.FirstName, r.LastName)
		}
	})
	t.commit()
}

// customerUpdate: an agent edits a customer.
func (s *sim) customerUpdate(now int64) {
	c := s.randomCustomer()
	if c == nil {
		return
	}
	t := s.begin(now)
	s.updateCustomer(t, c, func(r *customerRow) {
		switch s.r.IntN(5) {
		case 0:
			r.Phone = ptr(phone(s.r))
		case 1:
			r.Email = email(s.r, r.FirstName, r.LastName)
		case 2:
			r.City = ptr(pick(s.r, cities))
		case 3:
			r.MarketingOptIn = !r.MarketingOptIn
		default:
			if r.Phone == nil {
				r.Phone = ptr(phone(s.r))
			} else {
				r.City = ptr(pick(s.r, cities))
			}
		}
	})
	t.commit()
}

const tierPlatinum = "platinum"

var nextTier = map[string]string{"standard": "silver", "silver": "gold", "gold": tierPlatinum, tierPlatinum: tierPlatinum}

// loyaltyRecalculation upgrades the customers with two visits or more today.
func (s *sim) loyaltyRecalculation(now int64) {
	t := s.begin(now)
	for _, id := range s.customerIDs {
		c := s.customers[id]
		if c.deleted || c.visits < 2 || c.row.LoyaltyTier == tierPlatinum {
			continue
		}
		s.updateCustomer(t, c, func(r *customerRow) { r.LoyaltyTier = nextTier[r.LoyaltyTier] })
	}
	t.commit()
}

// --- vehicles ---

func (s *sim) newVehicle(t *tx, owner *customer) *vehicle {
	m := pickMake(s.r)
	md := pick(s.r, m.models)
	v := &vehicle{row: vehicleRow{
		ID: s.nextVehicle, Make: m.name, Model: md.name,
		CreatedAt: s.ms(t.now), UpdatedAt: s.ms(t.now),
	}}
	if owner == nil { // inventory: new, or a late-model used one
		v.row.Status = statusInStock
		v.row.ModelYear = 2026
		v.row.MileageKm = 5 + s.r.IntN(40)
		price := md.price
		if s.r.IntN(4) == 0 {
			v.row.ModelYear = 2021 + s.r.IntN(4)
			v.row.MileageKm = 15000 + s.r.IntN(70000)
			price = price * (60 + s.r.IntN(20)) / 100
		}
		v.row.ListPrice = ptr(fmt.Sprintf("%d.00", price/100*100-5))
	} else {
		v.row.Status = "customer_owned"
		v.row.ModelYear = 2012 + s.r.IntN(15)
		v.row.MileageKm = (2026 - v.row.ModelYear) * (12000 + s.r.IntN(12000))
		v.row.CustomerID = ptr(owner.row.ID)
		owner.refs++
		owner.vehicles = append(owner.vehicles, v.row.ID)
	}
	v.row.VIN = vin(s.r, m, v.row.ModelYear)
	if s.r.IntN(10) < 9 {
		v.row.Color = ptr(pick(s.r, colors))
	}
	s.nextVehicle++
	s.vehicles[v.row.ID] = v
	s.vehicleIDs = append(s.vehicleIDs, v.row.ID)
	after := v.row
	t.add(tVehicles, "c", v.row.ID, nil, &after)
	return v
}

func (s *sim) updateVehicle(t *tx, v *vehicle, mutate func(*vehicleRow)) {
	before := v.row
	mutate(&v.row)
	v.row.UpdatedAt = s.ms(t.now)
	after := v.row
	t.add(tVehicles, "u", v.row.ID, &before, &after)
}

// inventoryArrival adds n vehicles to the inventory in one transaction; a few
// are duplicate VIN entries, deleted later.
func (s *sim) inventoryArrival(now int64, n int) {
	t := s.begin(now)
	for range n {
		v := s.newVehicle(t, nil)
		if s.r.IntN(100) < 5 {
			s.at(now+5*minute+s.r.Int64N(2*hour), func(now int64) {
				if v.deleted || v.refs > 0 || v.row.Status != statusInStock {
					return
				}
				t := s.begin(now)
				before := v.row
				v.deleted = true
				t.add(tVehicles, "d", v.row.ID, &before, nil)
				t.commit()
			})
		}
	}
	t.commit()
}

// sale: an in-stock vehicle is sold to a customer, new or known.
func (s *sim) sale(now int64) {
	var stock []*vehicle
	for _, id := range s.vehicleIDs {
		if v := s.vehicles[id]; !v.deleted && v.row.Status == statusInStock {
			stock = append(stock, v)
		}
	}
	if len(stock) == 0 {
		return
	}
	v := pick(s.r, stock)
	t := s.begin(now)
	c := s.randomCustomer()
	if c == nil || s.r.IntN(2) == 0 {
		c = s.newCustomer(t)
	}
	c.refs++
	c.visits++
	c.vehicles = append(c.vehicles, v.row.ID)
	s.updateVehicle(t, v, func(r *vehicleRow) {
		r.Status = "sold"
		r.CustomerID = ptr(c.row.ID)
		r.MileageKm += 2 + s.r.IntN(15) // the test drive
	})
	t.commit()
}

// priceSync reprices the whole inventory.
func (s *sim) priceSync(now int64) {
	t := s.begin(now)
	for _, id := range s.vehicleIDs {
		v := s.vehicles[id]
		if v.deleted || v.row.Status != statusInStock || v.row.ListPrice == nil || s.r.IntN(10) < 2 {
			continue
		}
		var price int
		if _, err := fmt.Sscanf(*v.row.ListPrice, "%d.00", &price); err != nil {
			continue
		}
		pct := 97 + s.r.IntN(5) // -3 % to +1 %
		s.updateVehicle(t, v, func(r *vehicleRow) {
			r.ListPrice = ptr(fmt.Sprintf("%d.00", (price+5)*pct/100/100*100-5))
		})
	}
	t.commit()
}

// --- service appointments ---

// booking: a customer books service for a vehicle, by phone, on the web or at
// the express lane. A new customer and a new vehicle come in the same transaction.
func (s *sim) booking(now int64) {
	t := s.begin(now)
	c := s.randomCustomer()
	if c == nil || s.r.IntN(100) < 30 {
		c = s.newCustomer(t)
	}
	var v *vehicle
	if len(c.vehicles) > 0 && s.r.IntN(100) < 75 {
		v = s.vehicles[pick(s.r, c.vehicles)]
	}
	if v == nil || v.deleted {
		v = s.newVehicle(t, c)
	}
	st := pickService(s.r)
	a := &appointment{row: appointmentRow{
		ID: s.nextAppointment, CustomerID: c.row.ID, VehicleID: v.row.ID,
		ServiceType: st.name, Status: statusScheduled, EstimatedMinutes: ptr(st.minutes),
		CreatedAt: s.ms(now), UpdatedAt: s.ms(now),
	}}
	if s.r.IntN(10) < 8 {
		a.row.Advisor = ptr(pick(s.r, advisors))
	}
	if s.r.IntN(10) < 3 {
		a.row.Notes = ptr(pick(s.r, serviceNotes))
	}
	sameDay := s.r.IntN(100) < 40 && now < day-3*hour
	if sameDay { // express lane: within the next hour and a half, on a 5-minute slot
		a.row.ScheduledAt = s.ms(now+15*minute+s.r.Int64N(75*minute)) / (5 * minute) * (5 * minute)
	} else { // 1 to 14 days ahead, 07:30 to 16:45 on a quarter hour
		slot := s.start.UnixMilli() + int64(1+s.r.IntN(14))*24*hour + 30*minute + s.r.Int64N(38)*15*minute
		a.row.ScheduledAt = slot
	}
	s.nextAppointment++
	s.appointments[a.row.ID] = a
	s.appointmentIDs = append(s.appointmentIDs, a.row.ID)
	c.refs++
	c.visits++
	v.refs++
	after := a.row
	t.add(tAppointments, "c", a.row.ID, nil, &after)
	t.commit()

	switch n := s.r.IntN(100); {
	case n < 4: // booked in error, deleted a few minutes later
		s.at(now+minute+s.r.Int64N(20*minute), func(now int64) { s.deleteAppointment(now, a) })
	case sameDay:
		s.planVisit(a, v)
	case n < 14:
		s.at(now+5*minute+s.r.Int64N(5*hour), func(now int64) {
			s.updateAppointment(now, a, func(r *appointmentRow) { r.ScheduledAt += int64(1+s.r.IntN(3)) * 24 * hour })
		})
	case n < 21:
		s.at(now+5*minute+s.r.Int64N(5*hour), func(now int64) {
			s.updateAppointment(now, a, func(r *appointmentRow) { r.Status = statusCancelled })
		})
	}
}

// planVisit schedules a same-day appointment's check-in (with the odometer
// reading), work and completion, or its no-show.
func (s *sim) planVisit(a *appointment, v *vehicle) {
	at := a.row.ScheduledAt - s.start.UnixMilli()
	if s.r.IntN(100) < 6 {
		s.at(at+30*minute, func(now int64) {
			s.updateAppointment(now, a, func(r *appointmentRow) { r.Status = "no_show" })
		})
		return
	}
	checkIn := at - 10*minute + s.r.Int64N(25*minute)
	s.at(checkIn, func(now int64) {
		if a.deleted || a.row.Status == statusCancelled {
			return
		}
		t := s.begin(now)
		s.updateAppointmentTx(t, a, func(r *appointmentRow) { r.Status = "checked_in" })
		if !v.deleted {
			s.updateVehicle(t, v, func(r *vehicleRow) { r.MileageKm += s.r.IntN(900) })
		}
		t.commit()
	})
	work := checkIn + 5*minute + s.r.Int64N(35*minute)
	s.at(work, func(now int64) {
		s.updateAppointment(now, a, func(r *appointmentRow) { r.Status = "in_progress" })
	})
	est := int64(*a.row.EstimatedMinutes) * minute
	s.at(work+est*7/10+s.r.Int64N(est*6/10), func(now int64) {
		s.updateAppointment(now, a, func(r *appointmentRow) {
			r.Status = "completed"
			if s.r.IntN(4) == 0 {
				r.Notes = ptr(pick(s.r, []string{"Rotated tires, topped off fluids", "Replaced front pads and rotors",
					"Recommended cabin filter next visit", "Software update applied", "No issue found, road tested"}))
			}
		})
	})
}

func (s *sim) updateAppointmentTx(t *tx, a *appointment, mutate func(*appointmentRow)) {
	before := a.row
	mutate(&a.row)
	a.row.UpdatedAt = s.ms(t.now)
	after := a.row
	t.add(tAppointments, "u", a.row.ID, &before, &after)
}

func (s *sim) updateAppointment(now int64, a *appointment, mutate func(*appointmentRow)) {
	if a.deleted || a.row.Status == statusCancelled {
		return
	}
	t := s.begin(now)
	s.updateAppointmentTx(t, a, mutate)
	t.commit()
}

func (s *sim) deleteAppointment(now int64, a *appointment) {
	if a.deleted || a.row.Status != statusScheduled {
		return
	}
	t := s.begin(now)
	before := a.row
	a.deleted = true
	s.customers[a.row.CustomerID].refs--
	s.vehicles[a.row.VehicleID].refs--
	t.add(tAppointments, "d", a.row.ID, &before, nil)
	t.commit()
}

// confirmAppointments is the reminder job: every future appointment still
// statusScheduled is confirmed, in one transaction.
func (s *sim) confirmAppointments(now int64) {
	t := s.begin(now)
	for _, id := range s.appointmentIDs {
		a := s.appointments[id]
		if a.deleted || a.row.Status != statusScheduled || a.row.ScheduledAt < s.ms(now)+12*hour {
			continue
		}
		s.updateAppointmentTx(t, a, func(r *appointmentRow) { r.Status = "confirmed" })
	}
	t.commit()
}

func ptr[T any](v T) *T { return &v }

// value encodes an event's Kafka value: the JsonConverter envelope, or nil for a tombstone.
func value(e *event, schemas map[string]json.RawMessage) ([]byte, error) {
	if e.payload == nil {
		return nil, nil
	}
	b, err := json.Marshal(envelope{Schema: schemas[e.table], Payload: e.payload})
	if err != nil {
		return nil, fmt.Errorf("encoding %s %d: %w", e.table, e.id, err)
	}
	return b, nil
}
