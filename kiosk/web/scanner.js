// Where codes come from: the camera (BarcodeDetector where the browser has one, else
// jsQR in a worker) and a USB scanner that types the code and Enter into the page.

const FRAME_MS = 150;
const SAME_CODE_MS = 3000; // a badge held in front of the camera is one scan, not ten

export class Camera {
  constructor(video, onCode) {
    this.video = video;
    this.onCode = onCode;
    this.stream = null;
    this.timer = null;
    this.last = { text: null, at: 0 };
    this.canvas = document.createElement("canvas");
  }

  get running() {
    return this.stream !== null;
  }

  async start() {
    if (this.stream) return;
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
      audio: false,
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.decode = await decoder(this.canvas);
    this.loop();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  async loop() {
    if (!this.stream) return;
    try {
      const text = this.video.readyState >= 2 ? await this.decode(this.video) : null;
      const now = Date.now();
      if (text && (text !== this.last.text || now - this.last.at > SAME_CODE_MS)) {
        this.onCode(text);
      }
      if (text) this.last = { text, at: now };
    } catch (err) {
      console.warn("decoding failed", err);
    }
    this.timer = setTimeout(() => this.loop(), FRAME_MS);
  }
}

// A function video -> text or null, from the best decoder this browser has.
async function decoder(canvas) {
  if ("BarcodeDetector" in window) {
    const formats = await BarcodeDetector.getSupportedFormats();
    if (formats.includes("qr_code")) {
      const detector = new BarcodeDetector({ formats: ["qr_code"] });
      return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
    }
  }
  return jsqrDecoder(canvas);
}

// jsQR takes tens of milliseconds a frame on a phone: a worker keeps the page responsive.
function jsqrDecoder(canvas) {
  const worker = new Worker("/kiosk/qr-worker.js");
  let pending = null;
  worker.onmessage = (event) => {
    pending?.(event.data);
    pending = null;
  };
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return (video) => {
    const scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => {
      pending = resolve;
      worker.postMessage(image, [image.data.buffer]);
    });
  };
}

// A USB scanner is a keyboard that types a code and Enter. Outside form fields nothing
// else listens to bare keystrokes, so any run of characters ended by Enter is a scan.
// In a field (the name search, the walk-in form) only a run typed at machine speed is,
// and it is taken back out of the field: people type slower than MAX_AVERAGE_GAP_MS a
// key. Event timestamps, not handling times, so a busy page does not slow a scanner down.
const MAX_AVERAGE_GAP_MS = 35;
const RESET_MS = 1000;
const MIN_LENGTH = 8;

function editable(target) {
  return target instanceof HTMLElement && (target.isContentEditable || "value" in target) &&
    !(target instanceof HTMLButtonElement);
}

export class Wedge {
  constructor(onCode) {
    this.onCode = onCode;
    this.buffer = "";
    this.firstAt = 0;
    this.lastAt = 0;
    document.addEventListener("keydown", (event) => this.key(event), true);
  }

  key(event) {
    const at = event.timeStamp;
    if (at - this.lastAt > RESET_MS) this.buffer = "";
    this.lastAt = at;
    if (event.key === "Enter") {
      this.enter(event);
      return;
    }
    if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
      if (!this.buffer) this.firstAt = at;
      this.buffer += event.key;
    }
  }

  enter(event) {
    const text = this.buffer;
    this.buffer = "";
    if (text.length < MIN_LENGTH) return;
    const field = editable(event.target) ? event.target : null;
    const fast = (event.timeStamp - this.firstAt) / text.length <= MAX_AVERAGE_GAP_MS;
    if (field && !fast) return;
    // Enter would also press a focused button or submit a form.
    event.preventDefault();
    event.stopPropagation();
    if (field && field.value.endsWith(text)) field.value = field.value.slice(0, -text.length);
    this.onCode(text);
  }
}
