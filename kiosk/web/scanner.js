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

// A USB scanner is a keyboard that types fast: characters less than MAX_GAP_MS apart,
// ended by Enter. People typing in a form are left alone; a scan typed into a form field
// by the scanner is taken out of the field and handled as a scan.
const MAX_GAP_MS = 60;
const MIN_LENGTH = 8;

export class Wedge {
  constructor(onCode) {
    this.onCode = onCode;
    this.buffer = "";
    this.lastAt = 0;
    this.fast = true;
    this.handler = (event) => this.key(event);
    document.addEventListener("keydown", this.handler, true);
  }

  key(event) {
    const now = performance.now();
    if (now - this.lastAt > MAX_GAP_MS * 4) {
      this.buffer = "";
      this.fast = true;
    } else if (this.buffer && now - this.lastAt > MAX_GAP_MS) {
      this.fast = false;
    }
    this.lastAt = now;
    if (event.key === "Enter") {
      const text = this.buffer;
      this.buffer = "";
      if (this.fast && text.length >= MIN_LENGTH) {
        event.preventDefault();
        event.stopPropagation();
        const field = event.target;
        if (field && "value" in field && field.value.endsWith(text)) {
          field.value = field.value.slice(0, -text.length);
        }
        this.onCode(text);
      }
      return;
    }
    if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) {
      this.buffer += event.key;
    }
  }
}
