package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Fictional people, places and vehicles of a dealership group around Columbus, Ohio.

var firstNames = []string{
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
	"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
	"Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Ashley",
	"Donald", "Kimberly", "Steven", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kevin", "Carol",
	"Brian", "Amanda", "Jose", "Melissa", "Ryan", "Deborah", "Jacob", "Stephanie", "Nicholas", "Rebecca",
	"Tyler", "Laura", "Aaron", "Hannah", "Marcus", "Priya", "Wei", "Fatima", "Diego", "Aaliyah",
	"Omar", "Mei", "Luis", "Keisha", "Raj", "Sofia", "Hiroshi", "Grace", "Malik", "Chloe",
}

var lastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
	"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
	"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
	"Patel", "Kim", "Chen", "Okafor", "Schneider", "Kowalski", "O'Brien", "Murphy", "Sullivan", "Yamamoto",
}

// emailDomains and cities repeat the common ones, to pick them more often.
var emailDomains = append(slices.Repeat([]string{"gmail.com"}, 3),
	"yahoo.com", "outlook.com", "icloud.com", "hotmail.com",
	"aol.com", "att.net", "wowway.net", "osu.edu",
)

var cities = append(slices.Repeat([]string{"Columbus"}, 3),
	"Dublin", "Westerville", "Hilliard", "Grove City", "Worthington",
	"Gahanna", "Reynoldsburg", "Upper Arlington", "Delaware", "Powell", "Pickerington", "Lancaster", "Newark",
)

var areaCodes = []string{"614", "614", "380", "740"}

var advisors = []string{
	"Dana Whitfield", "Luis Ortega", "Tamika Brooks", "Greg Halvorsen", "Nina Petrova", "Corey Adams",
	"Brenda Yoder", "Sam Nakamura",
}

type serviceType struct {
	name    string
	minutes int
	weight  int
}

var serviceTypes = []serviceType{
	{"oil_change", 45, 30}, {"tire_rotation", 30, 14}, {"multi_point_inspection", 60, 10},
	{"brake_service", 120, 9}, {"battery_replacement", 40, 6}, {"recall_campaign", 90, 8},
	{"wheel_alignment", 75, 7}, {"ac_service", 90, 4}, {"transmission_service", 150, 3},
	{"check_engine_diagnosis", 90, 9},
}

var serviceNotes = []string{
	"Customer reports squeal when braking", "Waiting in lounge", "Needs loaner vehicle",
	"Check engine light on since Monday", "Rattle from rear on bumps", "Pick up after 5pm",
	"Open recall on file", "Customer brought own wiper blades", "Shuttle to office requested",
	"TPMS warning on dash", "Pulls to the right at highway speed",
}

var colors = []string{"White", "Black", "Silver", "Gray", "Blue", "Red", "Green", "Brown", "Orange"}

type model struct {
	name  string
	price int // MSRP of a new one, in dollars
}

type makeInfo struct {
	name   string
	wmis   []string // world manufacturer identifiers (VIN positions 1-3)
	models []model
	weight int
}

var makes = []makeInfo{
	{"Ford", []string{"1FT", "1FM", "1FA", "3FM"}, []model{{"F-150", 52000}, {"Escape", 31000}, {"Explorer", 41000}, {"Bronco Sport", 32000}, {"Maverick", 27000}, {"Mustang Mach-E", 45000}}, 22},
	{"Toyota", []string{"4T1", "2T3", "JTM", "5TF"}, []model{{"Camry", 29000}, {"RAV4", 31500}, {"Corolla", 23000}, {"Tacoma", 36000}, {"Highlander", 42000}}, 20},
	{"Honda", []string{"1HG", "2HK", "5FN", "7FA"}, []model{{"Civic", 25500}, {"CR-V", 32000}, {"Accord", 29500}, {"Pilot", 41000}}, 16},
	{"Chevrolet", []string{"1GC", "3GN", "1G1", "2GN"}, []model{{"Silverado 1500", 49000}, {"Equinox", 29000}, {"Malibu", 26000}, {"Traverse", 39000}}, 14},
	{"Hyundai", []string{"5NM", "KM8", "5NP"}, []model{{"Tucson", 29500}, {"Elantra", 22500}, {"Santa Fe", 34000}}, 8},
	{"Subaru", []string{"4S4", "JF2", "4S3"}, []model{{"Outback", 31000}, {"Forester", 30000}, {"Crosstrek", 27000}}, 8},
	{"Jeep", []string{"1C4", "1C4"}, []model{{"Grand Cherokee", 43000}, {"Wrangler", 38000}, {"Compass", 29000}}, 7},
	{"Nissan", []string{"5N1", "1N4", "JN8"}, []model{{"Rogue", 30000}, {"Altima", 27000}}, 5},
}

// pick returns a random element of s.
func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// weighted returns an index of weights, chosen by weight.
func weighted(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

func pickMake(r *rand.Rand) *makeInfo {
	ws := make([]int, len(makes))
	for i := range makes {
		ws[i] = makes[i].weight
	}
	return &makes[weighted(r, ws)]
}

func pickService(r *rand.Rand) serviceType {
	ws := make([]int, len(serviceTypes))
	for i := range serviceTypes {
		ws[i] = serviceTypes[i].weight
	}
	return serviceTypes[weighted(r, ws)]
}

func phone(r *rand.Rand) string {
	return fmt.Sprintf("+1 %s-555-%04d", pick(r, areaCodes), r.IntN(10000))
}

func email(r *rand.Rand, first, last string) string {
	local := strings.ToLower(first + "." + last)
	switch r.IntN(4) {
	case 0:
		local = strings.ToLower(first[:1] + last)
	case 1:
		local += fmt.Sprint(r.IntN(90) + 10)
	}
	local = strings.NewReplacer("'", "", " ", "").Replace(local)
	return local + "@" + pick(r, emailDomains)
}

// VIN characters: no I, O or Q.
const vinChars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"

// vinYear is VIN position 10 by model year.
var vinYear = map[int]byte{
	2012: 'C', 2013: 'D', 2014: 'E', 2015: 'F', 2016: 'G', 2017: 'H', 2018: 'J', 2019: 'K',
	2020: 'L', 2021: 'M', 2022: 'N', 2023: 'P', 2024: 'R', 2025: 'S', 2026: 'T', 2027: 'V',
}

// vin returns a well-formed North American VIN with a valid check digit (position 9).
func vin(r *rand.Rand, m *makeInfo, year int) string {
	b := []byte(pick(r, m.wmis))
	for len(b) < 8 {
		b = append(b, vinChars[r.IntN(len(vinChars))])
	}
	b = append(b, '0', vinYear[year], "ABCDEFGHJKLMNPRSTUVWXYZ"[r.IntN(23)])
	for len(b) < 17 {
		b = append(b, byte('0'+r.IntN(10)))
	}
	b[8] = vinCheckDigit(b)
	return string(b)
}

func vinCheckDigit(v []byte) byte {
	weights := [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, c := range v {
		sum += vinValue(c) * weights[i]
	}
	if d := sum % 11; d < 10 {
		return byte('0' + d)
	}
	return 'X'
}

func vinValue(c byte) int {
	if c >= '0' && c <= '9' {
		return int(c - '0')
	}
	const values = "12345678_12345_7_923456789" // A..Z; I, O, Q are not used
	return int(values[c-'A'] - '0')
}
