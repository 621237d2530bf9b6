// WebRTC helpers shared by the viewer's player (player.js) and the browser publisher (publish.js).
'use strict';

window.stagelinkRTC = {
  // gathered resolves when the PeerConnection has all its ICE candidates, or after ms: the hub takes
  // no trickle ICE, so the offer goes out with every candidate it has by then.
  gathered(pc, ms) {
    if (pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      };
      const check = () => {
        if (pc.iceGatheringState === 'complete') done();
      };
      const timer = setTimeout(done, ms);
      pc.addEventListener('icegatheringstatechange', check);
    });
  },
};
