package bridge

import (
	"fmt"
	"time"
)

// The simulated WLED's replies, as structs whose fields are in the order a real WLED writes its keys.

// simWLEDState is /json/state, keys in WLED's order.
type simWLEDState struct {
	On         bool             `json:"on"`
	Bri        int              `json:"bri"`
	Transition int              `json:"transition"`
	PS         int              `json:"ps"`
	PL         int              `json:"pl"`
	NL         simWLEDNightly   `json:"nl"`
	UDPN       simWLEDUDPN      `json:"udpn"`
	LOR        int              `json:"lor"`
	MainSeg    int              `json:"mainseg"`
	Seg        []simWLEDSegment `json:"seg"`
}

type simWLEDNightly struct {
	On   bool `json:"on"`
	Dur  int  `json:"dur"`
	Mode int  `json:"mode"`
	TBri int  `json:"tbri"`
	Rem  int  `json:"rem"`
}

type simWLEDUDPN struct {
	Send bool `json:"send"`
	Recv bool `json:"recv"`
	SGrp int  `json:"sgrp"`
	RGrp int  `json:"rgrp"`
}

type simWLEDSegment struct {
	ID    int       `json:"id"`
	Start int       `json:"start"`
	Stop  int       `json:"stop"`
	Len   int       `json:"len"`
	Grp   int       `json:"grp"`
	Spc   int       `json:"spc"`
	Of    int       `json:"of"`
	On    bool      `json:"on"`
	Frz   bool      `json:"frz"`
	Bri   int       `json:"bri"`
	CCT   int       `json:"cct"`
	Set   int       `json:"set"`
	Col   [3][3]int `json:"col"`
	FX    int       `json:"fx"`
	SX    int       `json:"sx"`
	IX    int       `json:"ix"`
	Pal   int       `json:"pal"`
	C1    int       `json:"c1"`
	C2    int       `json:"c2"`
	C3    int       `json:"c3"`
	Sel   bool      `json:"sel"`
	Rev   bool      `json:"rev"`
	Mi    bool      `json:"mi"`
	O1    bool      `json:"o1"`
	O2    bool      `json:"o2"`
	O3    bool      `json:"o3"`
	SI    int       `json:"si"`
	M12   int       `json:"m12"`
}

// stateJSON returns the state reply. The caller holds mu.
func (s *SimWLED) stateJSON() simWLEDState {
	st := simWLEDState{
		On: s.on, Bri: s.bri, Transition: s.trans, PS: -1, PL: -1,
		NL:   simWLEDNightly{Dur: 60, Mode: 1, Rem: -1},
		UDPN: simWLEDUDPN{Recv: true, SGrp: 1, RGrp: 1},
		Seg:  make([]simWLEDSegment, 0, len(s.segs)),
	}
	for i, g := range s.segs {
		st.Seg = append(st.Seg, simWLEDSegment{
			ID: i, Start: g.start, Stop: g.stop, Len: g.stop - g.start, Grp: 1, On: g.on, Bri: g.bri,
			CCT: 127, Col: g.col, FX: g.fx, SX: g.sx, IX: g.ix, Pal: g.pal, C1: 128, C2: 128, C3: 16,
			Sel: i == 0,
		})
	}
	return st
}

// simWLEDInfo is /json/info, keys in WLED's order (0.15, ESP8266).
type simWLEDInfo struct {
	Ver       string       `json:"ver"`
	VID       int          `json:"vid"`
	LEDs      simWLEDLEDs  `json:"leds"`
	Str       bool         `json:"str"`
	Name      string       `json:"name"`
	UDPPort   int          `json:"udpport"`
	Live      bool         `json:"live"`
	LiveSeg   int          `json:"liveseg"`
	LM        string       `json:"lm"`
	LIP       string       `json:"lip"`
	WS        int          `json:"ws"`
	FXCount   int          `json:"fxcount"`
	PalCount  int          `json:"palcount"`
	CPalCount int          `json:"cpalcount"`
	Maps      []simWLEDMap `json:"maps"`
	WiFi      simWLEDWiFi  `json:"wifi"`
	FS        simWLEDFS    `json:"fs"`
	NDC       int          `json:"ndc"`
	Arch      string       `json:"arch"`
	Core      string       `json:"core"`
	LWIP      int          `json:"lwip"`
	FreeHeap  int          `json:"freeheap"`
	Uptime    int64        `json:"uptime"`
	Time      string       `json:"time"`
	Opt       int          `json:"opt"`
	Brand     string       `json:"brand"`
	Product   string       `json:"product"`
	MAC       string       `json:"mac"`
	IP        string       `json:"ip"`
}

type simWLEDLEDs struct {
	Count  int   `json:"count"`
	Pwr    int   `json:"pwr"`
	FPS    int   `json:"fps"`
	MaxPwr int   `json:"maxpwr"`
	MaxSeg int   `json:"maxseg"`
	SegLC  []int `json:"seglc"`
	LC     int   `json:"lc"`
	RGBW   bool  `json:"rgbw"`
	WV     int   `json:"wv"`
	CCT    int   `json:"cct"`
}

type simWLEDMap struct {
	ID int `json:"id"`
}

type simWLEDWiFi struct {
	BSSID   string `json:"bssid"`
	RSSI    int    `json:"rssi"`
	Signal  int    `json:"signal"`
	Channel int    `json:"channel"`
	AP      bool   `json:"ap"`
}

type simWLEDFS struct {
	U   int `json:"u"`
	T   int `json:"t"`
	PMT int `json:"pmt"`
}

// infoJSON returns the info reply. The caller holds mu.
func (s *SimWLED) infoJSON() simWLEDInfo {
	up := time.Since(s.boot)
	seglc := make([]int, len(s.segs))
	for i := range seglc {
		seglc[i] = 1
	}
	secs := int64(up / time.Second)
	return simWLEDInfo{
		Ver: s.cfg.Version, VID: 2508020,
		LEDs: simWLEDLEDs{Count: s.cfg.LEDs, FPS: 42, MaxPwr: 850, MaxSeg: 16, SegLC: seglc, LC: 1},
		Name: s.cfg.Name, UDPPort: 21324, LiveSeg: -1,
		FXCount: len(s.cfg.Effects), PalCount: len(simWLEDPalettes()),
		Maps:     []simWLEDMap{{ID: 0}},
		WiFi:     simWLEDWiFi{BSSID: "82:22:1D:9A:7F:66", RSSI: s.rssi, Signal: wledSignalQuality(s.rssi), Channel: 6},
		FS:       simWLEDFS{U: 12, T: 983},
		Arch:     "esp8266",
		Core:     "3.1.2",
		FreeHeap: 21512,
		Uptime:   secs,
		Time:     fmt.Sprintf("1970-1-1, %02d:%02d:%02d", secs/3600%24, secs/60%60, secs%60),
		Opt:      79, Brand: "WLED", Product: "FOSS", MAC: s.cfg.MAC, IP: "127.0.0.1",
	}
}

// wledSignalQuality maps an RSSI in dBm to wifi.signal as WLED does (wled/WLED wled00/network.cpp
// getSignalQuality, after tzapu/WiFiManager).
func wledSignalQuality(rssi int) int {
	switch {
	case rssi <= -100:
		return 0
	case rssi >= -50:
		return 100
	default:
		return 2 * (rssi + 100)
	}
}
