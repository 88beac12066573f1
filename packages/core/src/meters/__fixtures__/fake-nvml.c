/*
 * A fake libnvidia-ml.so.1 with NVML's ABI, for tests on machines without an NVIDIA driver.
 * Compiled at test time: gcc -shared -fPIC -o <dir>/libnvidia-ml.so.1 fake-nvml.c
 *
 * Behaviour follows a script, from the file named by the environment variable FAKE_NVML_SCRIPT
 * (unset: no devices), read when nvmlInit_v2 takes the reference count from 0 to 1, or when
 * FAKE_NVML_SCRIPT names another file than the one loaded (a new test starts afresh even if an
 * earlier user never shut NVML down; the reference count is kept). One
 * directive per line, '#' starts a comment; lines before the first `device` are global:
 *
 *   origin_ns N             time origin on CLOCK_MONOTONIC (= process.hrtime.bigint() in Node);
 *                           default: when the script is loaded. t below is seconds since it.
 *   origin_file PATH        the origin is the N written in PATH, from the first call that finds
 *                           the file; until then t = 0 (a test starts the clock on an event, and
 *                           every process using the script picks up the same origin)
 *   driver VERSION          nvmlSystemGetDriverVersion
 *   fail FUNCTION CODE [S]  FUNCTION returns CODE (from t >= S, default always); global for
 *                           nvmlInit_v2, nvmlDeviceGetCount_v2, nvmlSystemGetDriverVersion, else
 *                           for the current device
 *   device UUID             starts a device; the lines below apply to it
 *   name TEXT               rest of the line
 *   energy_start_mj N       counter at t = 0
 *   power_w W               steady power: counter = start + 1000·W·t mJ
 *   ramp_w_per_s R          power W + R·t: counter = start + 1000·(W·t + R·t²/2)
 *   counter_period_ms MS    the counter only moves every MS (as real ones, ~100 ms)
 *   reset_at_s S            the counter restarts from 0 at t = S
 *   no_energy_counter       nvmlDeviceGetTotalEnergyConsumption returns NOT_SUPPORTED
 *   power_mw N              reported power (default: the scripted power at t, in mW)
 *   temp_c N | sm_clock_mhz N | mem_total N | mem_used N | clock_reasons N (decimal or 0x)
 *   power_limit_mw N | persistence 0|1
 *   arch N                  nvmlDeviceGetArchitecture (NVML_DEVICE_ARCH_*; default 9, Hopper)
 *   clock KIND TYPE MHZ     KIND max | app | default_app (nvmlDeviceGetMaxClockInfo,
 *                           nvmlDeviceGetApplicationsClock, nvmlDeviceGetDefaultApplicationsClock),
 *                           TYPE graphics | sm | mem | video; MHZ `unsupported` for NOT_SUPPORTED
 *   pid PID USED_BYTES      a compute process on the device (repeatable)
 *   lost_at_s S             from t = S every call on the device returns GPU_IS_LOST
 *
 * Compiled with -DFAKE_NVML_OMIT_ARCH or -DFAKE_NVML_OMIT_APP_CLOCKS, the library lacks
 * nvmlDeviceGetArchitecture or the two application-clock getters (as older or newer drivers do).
 *
 * Test hooks (not NVML): fakeNvmlRefCount() is the init reference count; fakeNvmlCalls() counts
 * every NVML call since the script was loaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEVICES 8
#define MAX_FAILS 8
#define MAX_PIDS 16
#define CLOCK_KINDS 3 /* max, app, default_app */
#define CLOCK_TYPES 4 /* nvmlClockType_t: graphics, sm, mem, video */

enum {
  SUCCESS = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3, NOT_FOUND = 6,
  INSUFFICIENT_SIZE = 7, GPU_IS_LOST = 15, UNKNOWN = 999
};

typedef struct { char fn[64]; int code; double from_s; } fail_t;

typedef struct nvmlDevice_st {
  char uuid[96];
  char name[96];
  double energy_start_mj, power_w, ramp, period_ms, reset_at_s, lost_at_s;
  int no_counter;
  long long power_mw; /* -1: from the script's power */
  unsigned int temp_c, sm_clock_mhz, power_limit_mw, persistence, arch;
  long long clocks[CLOCK_KINDS][CLOCK_TYPES]; /* MHz; -1: NOT_SUPPORTED */
  unsigned long long mem_total, mem_used, clock_reasons;
  unsigned int pids[MAX_PIDS];
  unsigned long long pid_mem[MAX_PIDS];
  int npids;
  fail_t fails[MAX_FAILS];
  int nfails;
} device_t;

typedef device_t *nvmlDevice_t;

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;

typedef struct {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
} nvmlProcessInfo_t;

static device_t devices[MAX_DEVICES];
static int ndevices;
static char driver[80];
static fail_t global_fails[MAX_FAILS];
static int nglobal_fails;
static double origin_ns;
static char origin_file[4096]; /* non-empty: the origin is still to be read from this file */
static int refcount;
static unsigned long long calls;
static char loaded_path[4096];

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double t_s(void) {
  if (origin_file[0] != 0) {
    FILE *file = fopen(origin_file, "r");
    double ns;
    int found = file != NULL && fscanf(file, "%lf", &ns) == 1;
    if (file != NULL) fclose(file);
    if (!found) return 0;
    origin_ns = ns;
    origin_file[0] = 0;
  }
  double t = (now_ns() - origin_ns) / 1e9;
  return t < 0 ? 0 : t;
}

static int add_fail(fail_t *list, int *n, const char *rest) {
  if (*n >= MAX_FAILS) return 0;
  fail_t *f = &list[*n];
  f->from_s = -1;
  if (sscanf(rest, "%63s %d %lf", f->fn, &f->code, &f->from_s) < 2) return 0;
  (*n)++;
  return 1;
}

static int index_of(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

/* `clock KIND TYPE MHZ|unsupported`. */
static int set_clock(device_t *d, const char *rest) {
  static const char *const kinds[CLOCK_KINDS] = {"max", "app", "default_app"};
  static const char *const types[CLOCK_TYPES] = {"graphics", "sm", "mem", "video"};
  char kind[32], type[32], value[32];
  if (sscanf(rest, "%31s %31s %31s", kind, type, value) != 3) return 0;
  int k = index_of(kinds, CLOCK_KINDS, kind), t = index_of(types, CLOCK_TYPES, type);
  if (k < 0 || t < 0) return 0;
  d->clocks[k][t] = strcmp(value, "unsupported") == 0 ? -1 : strtoll(value, NULL, 0);
  return 1;
}

/* Default clocks, H100-like figures, MHz: max, application and default application, each for
 * graphics, SM, memory and video. */
static const long long default_clocks[CLOCK_KINDS][CLOCK_TYPES] = {
  {1980, 1980, 2619, 1755}, {1755, 1755, 2619, 1395}, {1755, 1755, 2619, 1395}
};

static int load_script(void) {
  memset(devices, 0, sizeof devices);
  ndevices = 0;
  nglobal_fails = 0;
  strcpy(driver, "550.54.15");
  origin_ns = now_ns();
  origin_file[0] = 0;
  calls = 0;
  const char *path = getenv("FAKE_NVML_SCRIPT");
  snprintf(loaded_path, sizeof loaded_path, "%s", path == NULL ? "" : path);
  if (path == NULL || *path == 0) return SUCCESS;
  FILE *file = fopen(path, "r");
  if (file == NULL) return UNKNOWN;
  char line[512];
  device_t *d = NULL;
  int ok = 1;
  while (ok && fgets(line, sizeof line, file) != NULL) {
    line[strcspn(line, "\r\n")] = 0;
    char *hash = strchr(line, '#');
    if (hash != NULL) *hash = 0;
    char key[64];
    int used = 0;
    if (sscanf(line, " %63s %n", key, &used) < 1) continue;
    const char *rest = line + used;
    if (strcmp(key, "origin_ns") == 0) origin_ns = strtod(rest, NULL);
    else if (strcmp(key, "origin_file") == 0) snprintf(origin_file, sizeof origin_file, "%s", rest);
    else if (strcmp(key, "driver") == 0) snprintf(driver, sizeof driver, "%s", rest);
    else if (strcmp(key, "device") == 0) {
      if (ndevices >= MAX_DEVICES) { ok = 0; break; }
      d = &devices[ndevices++];
      snprintf(d->uuid, sizeof d->uuid, "%s", rest);
      snprintf(d->name, sizeof d->name, "Fake GPU %d", ndevices - 1);
      d->power_mw = -1;
      d->lost_at_s = -1;
      d->reset_at_s = -1;
      d->temp_c = 40;
      d->sm_clock_mhz = 1980;
      d->mem_total = 80ULL << 30;
      d->power_limit_mw = 700000;
      d->persistence = 1;
      d->arch = 9;
      memcpy(d->clocks, default_clocks, sizeof d->clocks);
    } else if (strcmp(key, "fail") == 0) ok = d ? add_fail(d->fails, &d->nfails, rest) : add_fail(global_fails, &nglobal_fails, rest);
    else if (d == NULL) ok = 0;
    else if (strcmp(key, "name") == 0) snprintf(d->name, sizeof d->name, "%s", rest);
    else if (strcmp(key, "energy_start_mj") == 0) d->energy_start_mj = strtod(rest, NULL);
    else if (strcmp(key, "power_w") == 0) d->power_w = strtod(rest, NULL);
    else if (strcmp(key, "ramp_w_per_s") == 0) d->ramp = strtod(rest, NULL);
    else if (strcmp(key, "counter_period_ms") == 0) d->period_ms = strtod(rest, NULL);
    else if (strcmp(key, "reset_at_s") == 0) d->reset_at_s = strtod(rest, NULL);
    else if (strcmp(key, "lost_at_s") == 0) d->lost_at_s = strtod(rest, NULL);
    else if (strcmp(key, "no_energy_counter") == 0) d->no_counter = 1;
    else if (strcmp(key, "power_mw") == 0) d->power_mw = strtoll(rest, NULL, 0);
    else if (strcmp(key, "temp_c") == 0) d->temp_c = (unsigned int)strtoul(rest, NULL, 0);
    else if (strcmp(key, "sm_clock_mhz") == 0) d->sm_clock_mhz = (unsigned int)strtoul(rest, NULL, 0);
    else if (strcmp(key, "mem_total") == 0) d->mem_total = strtoull(rest, NULL, 0);
    else if (strcmp(key, "mem_used") == 0) d->mem_used = strtoull(rest, NULL, 0);
    else if (strcmp(key, "clock_reasons") == 0) d->clock_reasons = strtoull(rest, NULL, 0);
    else if (strcmp(key, "power_limit_mw") == 0) d->power_limit_mw = (unsigned int)strtoul(rest, NULL, 0);
    else if (strcmp(key, "persistence") == 0) d->persistence = (unsigned int)strtoul(rest, NULL, 0);
    else if (strcmp(key, "arch") == 0) d->arch = (unsigned int)strtoul(rest, NULL, 0);
    else if (strcmp(key, "clock") == 0) ok = set_clock(d, rest);
    else if (strcmp(key, "pid") == 0) {
      if (d->npids >= MAX_PIDS || sscanf(rest, "%u %llu", &d->pids[d->npids], &d->pid_mem[d->npids]) != 2) ok = 0;
      else d->npids++;
    } else ok = 0;
  }
  fclose(file);
  return ok ? SUCCESS : UNKNOWN;
}

static int failing(const fail_t *list, int n, const char *fn) {
  for (int i = 0; i < n; i++)
    if (strcmp(list[i].fn, fn) == 0 && t_s() >= list[i].from_s) return list[i].code;
  return SUCCESS;
}

/* The checks every device call starts with: initialised, a known handle, not lost, no scripted failure. */
static int check(device_t *d, const char *fn) {
  calls++;
  if (refcount == 0) return UNINITIALIZED;
  if (d == NULL || d < devices || d >= devices + ndevices) return INVALID_ARGUMENT;
  if (d->lost_at_s >= 0 && t_s() >= d->lost_at_s) return GPU_IS_LOST;
  return failing(d->fails, d->nfails, fn);
}

#define CHECK(d) do { int rc_ = check((d), __func__); if (rc_ != SUCCESS) return rc_; } while (0)

static int check_global(const char *fn) {
  calls++;
  if (refcount == 0) return UNINITIALIZED;
  return failing(global_fails, nglobal_fails, fn);
}

static int copy_string(char *out, unsigned int length, const char *value) {
  if (out == NULL) return INVALID_ARGUMENT;
  if (strlen(value) + 1 > length) return INSUFFICIENT_SIZE;
  strcpy(out, value);
  return SUCCESS;
}

static double energy_mj(const device_t *d, double t) {
  return d->energy_start_mj + 1000.0 * (d->power_w * t + d->ramp * t * t / 2);
}

static int script_changed(void) {
  const char *path = getenv("FAKE_NVML_SCRIPT");
  return strcmp(path == NULL ? "" : path, loaded_path) != 0;
}

int nvmlInit_v2(void) {
  if (refcount == 0 || script_changed()) {
    int rc = load_script();
    if (rc != SUCCESS) return rc;
    calls++;
    rc = failing(global_fails, nglobal_fails, "nvmlInit_v2");
    if (rc != SUCCESS) return rc;
  }
  refcount++;
  return SUCCESS;
}

int nvmlShutdown(void) {
  calls++;
  if (refcount == 0) return UNINITIALIZED;
  refcount--;
  return SUCCESS;
}

const char *nvmlErrorString(int result) {
  switch (result) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 6: return "Not Found";
    case 7: return "Insufficient Size";
    case 9: return "Driver Not Loaded";
    case 10: return "Timeout";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}

int nvmlSystemGetDriverVersion(char *version, unsigned int length) {
  int rc = check_global(__func__);
  return rc != SUCCESS ? rc : copy_string(version, length, driver);
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
  int rc = check_global(__func__);
  if (rc != SUCCESS) return rc;
  if (count == NULL) return INVALID_ARGUMENT;
  *count = (unsigned int)ndevices;
  return SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
  calls++;
  if (refcount == 0) return UNINITIALIZED;
  if (device == NULL || index >= (unsigned int)ndevices) return INVALID_ARGUMENT;
  *device = &devices[index];
  return SUCCESS;
}

int nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
  calls++;
  if (refcount == 0) return UNINITIALIZED;
  if (uuid == NULL || device == NULL) return INVALID_ARGUMENT;
  for (int i = 0; i < ndevices; i++) {
    if (strcmp(devices[i].uuid, uuid) == 0) {
      *device = &devices[i];
      return SUCCESS;
    }
  }
  return NOT_FOUND;
}

int nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
  CHECK(device);
  return copy_string(uuid, length, device->uuid);
}

int nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
  CHECK(device);
  return copy_string(name, length, device->name);
}

int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long *energy) {
  CHECK(device);
  if (device->no_counter) return NOT_SUPPORTED;
  if (energy == NULL) return INVALID_ARGUMENT;
  double t = t_s();
  if (device->period_ms > 0) {
    double p = device->period_ms / 1000;
    t = (double)(long long)(t / p) * p;
  }
  double e = energy_mj(device, t);
  if (device->reset_at_s >= 0 && t >= device->reset_at_s) e -= energy_mj(device, device->reset_at_s);
  *energy = (unsigned long long)e;
  return SUCCESS;
}

int nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
  CHECK(device);
  if (power == NULL) return INVALID_ARGUMENT;
  *power = device->power_mw >= 0 ? (unsigned int)device->power_mw : (unsigned int)((device->power_w + device->ramp * t_s()) * 1000);
  return SUCCESS;
}

int nvmlDeviceGetTemperature(nvmlDevice_t device, int sensorType, unsigned int *temp) {
  CHECK(device);
  if (temp == NULL || sensorType != 0) return INVALID_ARGUMENT;
  *temp = device->temp_c;
  return SUCCESS;
}

int nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, unsigned int *clock) {
  CHECK(device);
  if (clock == NULL || type < 0 || type > 3) return INVALID_ARGUMENT;
  *clock = type == 1 ? device->sm_clock_mhz : 1593;
  return SUCCESS;
}

int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
  CHECK(device);
  if (memory == NULL) return INVALID_ARGUMENT;
  memory->total = device->mem_total;
  memory->used = device->mem_used;
  memory->free = device->mem_total - device->mem_used;
  return SUCCESS;
}

int nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
  CHECK(device);
  if (reasons == NULL) return INVALID_ARGUMENT;
  *reasons = device->clock_reasons;
  return SUCCESS;
}

int nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons) {
  return nvmlDeviceGetCurrentClocksEventReasons(device, reasons);
}

int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount, nvmlProcessInfo_t *infos) {
  CHECK(device);
  if (infoCount == NULL) return INVALID_ARGUMENT;
  unsigned int n = (unsigned int)device->npids;
  if (*infoCount < n || (n > 0 && infos == NULL)) {
    *infoCount = n;
    return INSUFFICIENT_SIZE;
  }
  for (unsigned int i = 0; i < n; i++) {
    infos[i].pid = device->pids[i];
    infos[i].usedGpuMemory = device->pid_mem[i];
    infos[i].gpuInstanceId = 0xFFFFFFFFu;
    infos[i].computeInstanceId = 0xFFFFFFFFu;
  }
  *infoCount = n;
  return SUCCESS;
}

int nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit) {
  CHECK(device);
  if (limit == NULL) return INVALID_ARGUMENT;
  *limit = device->power_limit_mw;
  return SUCCESS;
}

int nvmlDeviceGetPersistenceMode(nvmlDevice_t device, int *mode) {
  CHECK(device);
  if (mode == NULL) return INVALID_ARGUMENT;
  *mode = (int)device->persistence;
  return SUCCESS;
}

static int clock_of(device_t *d, int kind, int type, unsigned int *clock) {
  if (clock == NULL || type < 0 || type >= CLOCK_TYPES) return INVALID_ARGUMENT;
  if (d->clocks[kind][type] < 0) return NOT_SUPPORTED;
  *clock = (unsigned int)d->clocks[kind][type];
  return SUCCESS;
}

int nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, int type, unsigned int *clock) {
  CHECK(device);
  return clock_of(device, 0, type, clock);
}

#ifndef FAKE_NVML_OMIT_APP_CLOCKS
int nvmlDeviceGetApplicationsClock(nvmlDevice_t device, int clockType, unsigned int *clockMHz) {
  CHECK(device);
  return clock_of(device, 1, clockType, clockMHz);
}

int nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, int clockType, unsigned int *clockMHz) {
  CHECK(device);
  return clock_of(device, 2, clockType, clockMHz);
}
#endif

#ifndef FAKE_NVML_OMIT_ARCH
int nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned int *arch) {
  CHECK(device);
  if (arch == NULL) return INVALID_ARGUMENT;
  *arch = device->arch;
  return SUCCESS;
}
#endif

int fakeNvmlRefCount(void) { return refcount; }
unsigned long long fakeNvmlCalls(void) { return calls; }
