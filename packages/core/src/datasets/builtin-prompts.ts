/**
 * lem's built-in prompt set, written for lem (not taken from any dataset): varied tasks of very
 * different lengths, so that a default run exercises short and long prefills alike.
 *
 * Ids are stable: a prompt's text never changes under its id. To change a prompt, add a new id
 * and retire the old one (and bump BUILTIN_SET_VERSION in builtin.ts), so results that name an id
 * keep meaning the same text.
 */

export type BuiltinCategory =
  | 'question'
  | 'instruction'
  | 'summarise'
  | 'code'
  | 'reasoning'
  | 'creative'
  | 'extraction'
  | 'translation'
  | 'rewrite'
  | 'classification';

export interface BuiltinPrompt {
  readonly id: string;
  readonly category: BuiltinCategory;
  readonly text: string;
}

export const BUILTIN_PROMPT_DATA: readonly BuiltinPrompt[] = [
  // ---------------------------------------------------------------- questions
  {id: 'question-01', category: 'question', text: `Why is the sky blue?`},
  {id: 'question-02', category: 'question', text: `What causes the seasons on Earth?`},
  {id: 'question-03', category: 'question', text: `How does a refrigerator keep food cold when the room around it is warm?`},
  {id: 'question-04', category: 'question', text: `What is the difference between weather and climate? Give one example of each.`},
  {id: 'question-05', category: 'question', text: `Explain photosynthesis in two sentences.`},
  {id: 'question-06', category: 'question', text: `How does a vaccine prepare the immune system for an infection it has never met?`},
  {id: 'question-07', category: 'question', text: `What is inflation, and why do central banks try to keep it low but above zero?`},
  {id: 'question-08', category: 'question', text: `Why do we have leap years, and why is the year 1900 not one?`},
  {id: 'question-09', category: 'question', text: `How can a satellite navigation receiver work out its position from signals sent by satellites far above it?`},
  {id: 'question-10', category: 'question', text: `Why does water boil at a lower temperature on a high mountain, and what does that mean for cooking pasta there?`},
  {id: 'question-11', category: 'question', text: `What were the main causes of the decline of the Western Roman Empire? Name at least four and say which historians tend to stress most.`},
  {id: 'question-12', category: 'question', text: `In a parliamentary system, how does a proposal become a law?`},
  {id: 'question-13', category: 'question', text: `What does a compiler do?`},
  {id: 'question-14', category: 'question', text: `Why does cutting an onion make people's eyes water?`},
  {id: 'question-15', category: 'question', text: `How do noise-cancelling headphones remove sound instead of adding it?`},
  {id: 'question-16', category: 'question', text: `I want to start running after ten years of doing almost no exercise. I am 41, I walk about twenty minutes a day, and my knees sometimes ache after climbing stairs. I have three questions. First, how many times a week should I run at the beginning, and for how long? Second, should I worry about my knees, and is there anything I can do before I start to protect them? Third, how will I know whether I am progressing too fast? Please keep the advice practical and tell me which signs mean I should see a doctor.`},
  {id: 'question-17', category: 'question', text: `What is the difference between a virus and a bacterium, and why do antibiotics work on only one of them?`},
  {id: 'question-18', category: 'question', text: `How far away is the Moon?`},
  {id: 'question-19', category: 'question', text: `What is entropy, explained without equations?`},
  {id: 'question-20', category: 'question', text: `How is compound interest different from simple interest? Show the difference on a deposit of 1,000 at 5 % over three years.`},
  {id: 'question-21', category: 'question', text: `Explain what a hash table is to someone who has never written a program.`},
  {id: 'question-22', category: 'question', text: `My houseplant is in trouble and I would like help working out why. It is a leafy plant about sixty centimetres tall with large, glossy, heart-shaped leaves. I bought it in spring and for four months it grew well, putting out a new leaf every two weeks or so. About a month ago I moved it from a bright room facing east to a corner of the living room, roughly three metres from a window that faces north, because it looked nicer there. Since then, two of the lower leaves have turned yellow and dropped off, the newest leaf came out smaller than the others, and the stems seem to be leaning towards the window. I water it every Sunday with about half a litre, whether or not the soil looks dry, and the pot has a drainage hole that sits inside a decorative outer pot without holes. When I lifted the plant out last week there was a little water standing in the bottom of the outer pot and the soil smelled slightly sour. I have not fertilised it since I bought it. The room stays between 19 and 22 degrees, and a radiator is about a metre away. What is most likely going wrong, what should I change first, and how long should I expect it to take before I see whether the changes are working?`},

  // ---------------------------------------------------------------- instructions
  {id: 'instruction-01', category: 'instruction', text: `Give me a packing list for a three-day hiking trip.`},
  {id: 'instruction-02', category: 'instruction', text: `How do I fix a flat bicycle tyre at the side of the road?`},
  {id: 'instruction-03', category: 'instruction', text: `Write step-by-step instructions for folding a paper aeroplane that glides well.`},
  {id: 'instruction-04', category: 'instruction', text: `Plan a relaxed three-day visit to Lisbon for someone who likes food markets, viewpoints and old trams, and who does not want to get up early.`},
  {id: 'instruction-05', category: 'instruction', text: `Make a weekly dinner plan for one vegetarian who cooks on a small budget. Constraints: at most 40 minutes of cooking on weekdays, one longer recipe on Sunday that gives leftovers for Monday, no mushrooms, and a shopping list grouped by shop section at the end. Assume a basic kitchen with two hobs and an oven, and use ingredients that can be found in an ordinary supermarket.`},
  {id: 'instruction-06', category: 'instruction', text: `How do I politely decline a meeting invitation from my manager's manager?`},
  {id: 'instruction-07', category: 'instruction', text: `Draft an agenda for a 45-minute kickoff meeting. Context: we are a team of six starting a project to replace the paper forms that visitors fill in at the reception of our clinic with a tablet-based check-in. Two people are designers, two are developers, one is the clinic's office manager and one is me, the project lead. The office manager has never worked on a software project. We need to leave the meeting with agreed roles, a date for the first prototype, and a list of questions to ask reception staff. There is no budget discussion in this meeting. Put times next to each item and mark which items need a decision.`},
  {id: 'instruction-08', category: 'instruction', text: `Give me five practical ways to fall asleep faster.`},
  {id: 'instruction-09', category: 'instruction', text: `Explain how to brew coffee by pouring water over ground coffee in a paper filter, including the ratio, the grind and the timing.`},
  {id: 'instruction-10', category: 'instruction', text: `Turn the following into a first-week onboarding checklist for a new volunteer at a community food bank. Keep it as a checklist grouped by day, with a short reason next to any item that is a safety rule.

Notes from the coordinator: New volunteers must sign the volunteer agreement and the photo consent form before their first shift. They get a tour of the warehouse on day one, including the fire exits, the first-aid box by the loading door and the eye-wash station. Nobody lifts boxes over 15 kg alone; the pallet truck is only for people who have done the 30-minute training, which runs on Wednesdays. Chilled food must go into the cold room within 20 minutes of arriving, and the temperature log is checked and signed at the start and end of each shift. Volunteers shadow an experienced person on the sorting table on days one and two, then work the distribution desk with a buddy on day three. On the desk they never ask clients why they need food, and they never take photos. Personal phones stay in the lockers during distribution. Day four is the stock count with the coordinator, and on day five we have a short check-in chat about how the week went and which shifts suit them. They should also join the volunteer chat group and read the allergen labelling guide before day three.`},
  {id: 'instruction-11', category: 'instruction', text: `Write a short cover letter for me using these details. I am applying for a position as a junior laboratory technician at a regional water-testing laboratory. I finished a two-year technical diploma in applied chemistry in June, where my final project measured nitrate levels in well water from twelve farms using a spectrophotometer. During my studies I worked weekends at a garden centre, where I was trusted to handle the stock of fertilisers and pesticides and to explain safe use to customers. I am careful with records: I kept the lab notebook for our project group and our tutor used it as an example for the next class. I have a driving licence and I am happy to collect samples in the field. I can start in two weeks. The advertisement asks for attention to detail, experience with sample preparation, and willingness to work one Saturday a month. Keep the letter under 250 words, warm but not informal, and do not invent any experience I have not listed.`},
  {id: 'instruction-12', category: 'instruction', text: `Write a five-question multiple-choice quiz about the water cycle for twelve-year-olds, with the answers at the end.`},
  {id: 'instruction-13', category: 'instruction', text: `Create a six-week study plan for learning basic statistics in about five hours a week, starting from school-level algebra. Include what to practise each week and a small project for the last week.`},
  {id: 'instruction-14', category: 'instruction', text: `Outline a ten-minute presentation on home composting for a neighbourhood meeting.`},

  // ---------------------------------------------------------------- summarisation
  {id: 'summarise-01', category: 'summarise', text: `Summarise the following passage in three sentences.

The town of Harlow Bridge ran its public library six days a week for forty years. Last spring, facing a budget that had not grown in a decade while heating costs had doubled, the library board tried something new: the building would open only four days a week, but for longer hours, from nine in the morning until nine at night. On the three closed days, a self-service locker outside the entrance would let members collect books they had reserved online, and the staff would use the quiet time to visit the two care homes and the primary school with a mobile collection. Many residents were unhappy at first. Older members said they liked to drop in for the newspapers every morning, and a petition against the change collected four hundred signatures in a fortnight. Six months later the picture is more mixed. Visits on opening days are up by a third, mostly in the evenings, when parents come with children after work. Loans have stayed roughly the same overall, but the locker handles almost a fifth of them. The care-home visits have turned out to be the most popular part of the plan, and one home has asked for a weekly reading group. The board says the building's energy bill has fallen by a quarter. It has agreed to keep the schedule for another year, and to add a newspaper corner in the community centre next door on the days the library is closed.`},
  {id: 'summarise-02', category: 'summarise', text: `Read this passage and summarise it for a ten-year-old in no more than five sentences.

A honeybee colony keeps the centre of its nest, where the young bees are growing, remarkably close to 35 degrees Celsius, whether the air outside is freezing or scorching. It does this without any single bee being in charge. In cold weather, worker bees cluster tightly around the brood. Some of them detach their wings from their flight muscles and shiver those muscles, which produces heat in the same way that our own shivering does. Bees on the outside of the cluster pack closely together and act as an insulating layer, and they slowly swap places with bees from the warm inside, so that no bee stays at the cold edge for too long. In hot weather the colony does the opposite. Workers stand at the entrance and fan their wings to pull air through the nest, often in lines, so that air enters on one side and leaves on the other. If fanning is not enough, foragers bring back water instead of nectar and spread thin films of it over the comb; as the water evaporates it carries heat away, much as sweat cools our skin. Individual bees seem to respond to the temperature they feel around them, with slightly different thresholds from bee to bee. Because not all of them start fanning or shivering at the same moment, the colony's response builds up gradually instead of swinging wildly, and the temperature stays steady. Researchers think this spread of thresholds, which comes partly from the genetic diversity of a queen who mates with many males, is one reason colonies with more genetic variety keep their brood temperature more stable.`},
  {id: 'summarise-03', category: 'summarise', text: `Below are the minutes of a community garden meeting. Write a summary of at most 120 words that lists the decisions taken and the open questions, and say who is responsible for each action.

Minutes of the Elm Street Community Garden meeting, held on Thursday evening in the church hall. Present: Rosa (chair), Dev, Marguerite, Tomasz, Aisha, Ben, Ingrid and two new members, Paolo and Lin. Apologies from Kwame.

1. Water. Rosa reported that the water bill for the summer was almost twice last year's. Tomasz said the tap near plot 14 has been dripping since June. It was agreed that Tomasz will replace the washer this weekend and that a sign asking people to water in the evening will go up by the shed. Aisha suggested rain barrels; Dev will find out what two barrels would cost and report next month.

2. New plots. Paolo and Lin were welcomed. There are two free half-plots, numbers 3 and 22. After some discussion it was agreed that Paolo takes plot 3 and Lin plot 22, and that Ingrid will show them where the tools and the compost bays are.

3. Shed. The shed door no longer locks properly and some tools have gone missing. Ben offered to fit a combination padlock. Members disagreed about whether everyone should know the code or only plot holders; no decision was taken and the question will come back next month.

4. Harvest festival. Marguerite proposed a harvest lunch on the last Saturday of September, with a stall selling surplus vegetables for the local school. This was agreed with enthusiasm. Marguerite will coordinate and asked for three volunteers for the day; Aisha and Lin signed up at the meeting.

5. Any other business. Ingrid reminded everyone that the compost bays are for plant material only, after someone put cooked food in bay 2, which has attracted rats. Rosa will email all members about this.

The next meeting will be on the second Thursday of next month.`},
  {id: 'summarise-04', category: 'summarise', text: `Summarise the main argument of this passage in one paragraph, then list two questions it leaves unanswered.

Before the middle of the nineteenth century, almost every town kept its own time. Noon was the moment the sun stood highest over that town, so a clock in a city a hundred kilometres to the west would show a few minutes earlier than a clock in the city to the east. For most people this did not matter: they rarely travelled far, and when they did, they moved at the speed of a horse, slowly enough that the difference was lost among the other delays of the journey. Railways changed this. A train could now cross several of these local times in an afternoon, and timetables had to say when a train would leave and arrive. Some railway companies printed timetables in the time of their head office; others used the local time of each station, which made connections a puzzle. Stations sometimes displayed two or more clocks side by side. Accidents in which two trains were sent onto the same stretch of single track, each driver trusting a different clock, made the problem dangerous as well as confusing. Railways therefore pushed for a shared standard: first a single time for a whole railway network, later a system of broad zones, each an hour apart, agreed between countries. Towns resisted for a while, because local solar time felt natural and the new time seemed to belong to the railways rather than to the people. Within a generation, however, the railway's time had become simply "the time", and local noon became a curiosity known mostly to astronomers and sundial makers. The passage from local to standard time is a reminder that the way we measure ordinary things often follows the needs of the technology we depend on.`},
  {id: 'summarise-05', category: 'summarise', text: `Summarise in one sentence: Every evening at nine, the baker mixes flour, water and a spoonful of last night's starter, covers the bowl, and leaves it on the cool shelf by the door. By five in the morning the dough has doubled and smells faintly sour. She folds it, shapes twelve loaves, lets them rest for an hour while the oven heats, and bakes them in two batches. The first customers arrive at seven, and on most days the bread is gone by ten.`},
  {id: 'summarise-06', category: 'summarise', text: `Give a three-bullet summary of this passage for a busy reader.

Measuring how fast a mountain glacier is shrinking sounds simple, but it involves several methods that each see a different part of the picture. The oldest approach is to walk to the glacier's lowest point every year and mark where the ice ends. This shows whether the snout is advancing or retreating, but it says little about the glacier as a whole, because a glacier can lose a great deal of thickness without its front moving much. A second method measures mass directly: scientists drive stakes into the ice at many points and return each autumn to see how much of each stake has been exposed by melting, and they dig pits in spring to weigh the winter snow. Adding up the gains and losses gives the year's change in mass, but only for the few glaciers where people can do this work every year. A third method compares the shape of the surface at different times, using aerial photographs, laser scanning from aircraft or measurements from satellites. It covers thousands of glaciers at once but needs assumptions about the density of the ice and snow that was lost. Researchers increasingly combine all three, using the careful stake measurements to check the satellite estimates, and the satellite estimates to show whether the few closely watched glaciers are typical of their region.`},
  {id: 'summarise-07', category: 'summarise', text: `The following is an internal incident report. Write a summary of about 100 words for senior managers who are not technical: what happened, how long customers were affected, why it happened, and what will change.

Incident report: loss of power to server room B, Tuesday.
At 02:14 the utility supply to our building dropped for about four seconds during a storm. The uninterruptible power supply for server room B should have carried the load until the backup generator started. It did not: one of its two battery strings had reached the end of its life, and the remaining string could not carry the full load. The supply failed within two seconds and every machine in room B lost power. The generator started normally at 02:15, but by then the machines were already down. Room A was unaffected because its supply had been serviced in March.
Room B holds the database servers for the customer portal and the payment queue. When power returned, the servers restarted automatically, but two of the three database nodes came back with inconsistent data and refused to form a cluster, which is the correct, safe behaviour. The on-call engineer was paged at 02:16 and reached the site at 02:58. She restored the cluster from the third node and replayed the transaction log; the portal was available again at 04:41. No payments were lost: payments submitted during the outage were held in the queue on room A and were processed between 04:41 and 05:10. Roughly 1,900 customers tried to log in during the outage and saw an error page.
Causes: the battery strings in room B were last tested eleven months ago, beyond the six-month interval we set ourselves, because the test had been scheduled during a week when the facilities contractor changed. Nobody was alerted that the test was overdue. Monitoring did report the failing battery as "degraded" for three weeks before the incident, but the alert went to a mailbox that is no longer read.
Actions: replace both battery strings in room B (done Wednesday); move battery tests into our own maintenance calendar with automatic reminders; route all power alerts to the on-call pager; review every monitoring destination for unread mailboxes by the end of the month; and test a full power cut of room B, at a quiet time, once the new batteries are installed.`},
  {id: 'summarise-08', category: 'summarise', text: `Summarise this trail review in two sentences, keeping the practical details.

We walked the Fox Hollow loop on a dry Saturday in October. The signposts say 11 km, but our watches measured closer to 13 because the detour around the collapsed footbridge adds almost two kilometres. The first hour follows a wide forestry track and is easy going; after the old quarry the path narrows and climbs steeply for about 300 metres of height, with loose stones that would be awkward in the wet. The view from the ridge is the reward: on a clear day you can see the coast. There is no water along the route and the café at the car park closes at four. Dogs are welcome but must be on a lead near the sheep fields on the descent. Allow four and a half hours with stops.`},
  {id: 'summarise-09', category: 'summarise', text: `Rewrite this research abstract as a plain-language summary of about 80 words for a general newsletter. Avoid jargon and do not overstate the findings.

Abstract. Sleep is thought to support the consolidation of newly acquired memories, but the contribution of brief daytime naps remains uncertain. We randomly assigned 96 healthy adults aged 20 to 35 to either a 30-minute nap opportunity or a 30-minute period of quiet wakefulness, following a learning session in which participants studied 60 pairs of unrelated words. Recall was tested immediately after learning, after the nap or rest period, and again 24 hours later. Immediately after the intervention, the nap group recalled on average 4.1 more word pairs than the wake group; after 24 hours the difference had narrowed to 2.3 pairs and was no longer statistically significant. Participants who reached deeper stages of sleep during the nap showed larger benefits at both time points. These results suggest that short naps may offer a modest, short-lived memory benefit, possibly dependent on sleep depth. Larger studies in more diverse populations, and over longer intervals, are needed.`},
  {id: 'summarise-10', category: 'summarise', text: `Here is an email thread between a customer and a support team. Summarise the customer's problem, what has been tried, and the agreed next step, in no more than five bullet points.

From: Hannah
Subject: Thermostat keeps resetting
Hello, since last week my heating thermostat resets to 16 degrees every night around 1 a.m., even though my schedule says 19 until 11 p.m. and 17 overnight. I have not changed anything. The display shows the correct time. Can you help?

From: Support (Jonas)
Hi Hannah, sorry to hear that. Could you check whether "holiday mode" or "frost protection" is switched on in the settings menu? Both can override the schedule. Also, which firmware version is shown under Settings > About?

From: Hannah
Neither holiday mode nor frost protection is on. The firmware says 3.2.7. I also tried taking the batteries out for a minute, as the manual suggests; the problem came back the same night.

From: Support (Jonas)
Thank you, that helps. Version 3.2.7 has a known issue where the overnight period is read incorrectly if it crosses midnight and the schedule was created before an update. Could you delete the night-time period and create it again? If that does not work, we will send you a replacement unit.

From: Hannah
I deleted and recreated the night period yesterday evening. This morning it had reset to 16 again at 1 a.m. I would prefer not to be without heating for long, as I work from home.

From: Support (Jonas)
Understood. I have arranged a replacement unit with next-day delivery; it will arrive on Thursday with a prepaid label to return the old one. The new unit has firmware 3.3.1, which fixes the issue. Please keep the old thermostat connected until the new one arrives.`},
  {id: 'summarise-11', category: 'summarise', text: `Summarise this explanation of tides as three bullet points.

Tides are the regular rise and fall of the sea caused mainly by the Moon's gravity. The Moon pulls slightly harder on the side of the Earth facing it than on the Earth's centre, and slightly harder on the centre than on the far side. The result is two bulges of water, one facing the Moon and one facing away from it. As the Earth turns, a coastline passes through both bulges, which is why most places see two high tides and two low tides roughly every 24 hours and 50 minutes; the extra 50 minutes comes from the Moon moving along its orbit. The Sun has a similar but weaker effect. When Sun and Moon line up, at new and full moon, their effects add and the tides are larger; when they are at right angles, the tides are smaller. The shape of coasts and the depth of the sea floor change the timing and height of tides a great deal from place to place.`},
  {id: 'summarise-12', category: 'summarise', text: `A town council debated whether to build protected bike lanes on Market Road. Summarise the arguments on each side fairly, in two short paragraphs, and then state in one sentence what the council decided.

Councillor Okafor opened by presenting the traffic survey: Market Road carries about 9,000 vehicles a day, and bicycle counts have risen from 300 to 850 a day in three years even though there is no cycle lane. Four cyclists were injured on the road last year. She argued that a protected lane on both sides, separated from traffic by a low kerb, would make cycling safe enough for children going to the two schools on the road, and that similar lanes in neighbouring towns had increased cycling by more than half. Councillor Brandt, who represents the shopkeepers' association, said the plan would remove 46 of the 60 parking spaces on the road. Several shop owners believe most of their customers arrive by car and fear losing business, especially the pharmacy, whose older customers cannot walk far. He also questioned the cost, estimated at 1.8 million, at a time when the council is cutting library hours. Councillor Mehta pointed out that a survey of shoppers last year found that only 38 % had arrived by car, and that the shops in the neighbouring town had reported no loss of trade after their lanes opened. Councillor Brandt replied that Market Road is different because the nearest car park is 600 metres away. After further discussion, the council voted seven to four to build the lanes, keep twelve parking spaces next to the pharmacy and the surgery, including four for disabled drivers, and review trade and traffic figures one year after opening.`},

  // ---------------------------------------------------------------- code
  {id: 'code-01', category: 'code', text: `Write a Python function that reverses a string.`},
  {id: 'code-02', category: 'code', text: `Explain what this regular expression matches, with two examples that match and two that do not: ^[A-Z]{2}\\d{2}-\\d{4}$`},
  {id: 'code-03', category: 'code', text: `Write an SQL query for this schema. Tables: customers(id, name, country, created_at), orders(id, customer_id, total, placed_at). Return the name and country of every customer who placed more than three orders in the last 30 days, together with the number of those orders and their summed total, sorted by the summed total from highest to lowest. Explain any assumption you make about time zones.`},
  {id: 'code-04', category: 'code', text: `Give me a shell one-liner that counts the lines of every .log file under the current folder, recursively, and prints the total.`},
  {id: 'code-05', category: 'code', text: `Review this Python function. List every bug and every risky behaviour you can find, explain why each matters, and then give a corrected version.

def average_scores(path, min_count=3):
    scores = {}
    f = open(path)
    for line in f.readlines()[1:]:
        name, score = line.split(",")
        if name in scores:
            scores[name].append(int(score))
        else:
            scores[name] = [score]
    result = {}
    for name in scores:
        values = scores[name]
        if len(values) > min_count:
            result[name] = sum(values) / len(values)
    return result

The function is meant to read a CSV file with a header row and two columns, a student's name and an integer score, and to return each student's average score, but only for students with at least min_count scores. It is called from a nightly job on files of about a million lines, some of which end with a blank line, and some names contain commas inside quotes. The job has crashed twice this month with a TypeError, and a teacher reported that a student with exactly three scores was missing from the report.`},
  {id: 'code-06', category: 'code', text: `Implement a least-recently-used cache with a fixed capacity in Rust, with get and put in O(1). Explain your choice of data structures briefly.`},
  {id: 'code-07', category: 'code', text: `Translate this C loop into idiomatic Python:

int total = 0;
for (int i = 0; i < n; i++) {
    if (values[i] % 2 == 0) {
        total += values[i] * values[i];
    }
}`},
  {id: 'code-08', category: 'code', text: `This C function should copy at most n - 1 characters of src into dst and always terminate dst with a zero byte, but a test fails. Find the bug and fix it.

size_t copy_bounded(char *dst, const char *src, size_t n) {
    size_t i;
    if (n == 0) return 0;
    for (i = 0; i <= n - 1 && src[i] != '\\0'; i++) {
        dst[i] = src[i];
    }
    dst[i] = '\\0';
    return i;
}`},
  {id: 'code-09', category: 'code', text: `Write unit tests, in Python with the standard unittest module, for a function slugify(title) that lowercases the title, replaces every run of characters other than letters and digits with a single hyphen, and strips hyphens from both ends. Cover empty input, accented letters, leading and trailing punctuation, repeated spaces and a title made only of symbols. State what you expect slugify to return for accented letters, since the description does not say.`},
  {id: 'code-10', category: 'code', text: `What is the time complexity of this snippet, and why?

for i in range(n):
    j = 1
    while j < n:
        j *= 2`},
  {id: 'code-11', category: 'code', text: `Design a small HTTP API for a neighbourhood tool library, where members borrow tools such as drills and ladders. Members can browse tools, reserve a tool for a date range, collect and return it, and see their history. Staff can add tools, mark a tool as under repair, and see overdue loans. Give the resources, the routes with methods, example request and response bodies for reserving a tool, the error cases, and how you would stop two members reserving the same tool for overlapping dates.`},
  {id: 'code-12', category: 'code', text: `Refactor this Python class to use a dataclass, remove the duplicated validation, and make the comparison methods consistent. Keep the behaviour the same otherwise, and point out any behaviour you had to change.

class Reading:
    def __init__(self, sensor, value, unit, taken_at):
        if unit not in ("C", "F"):
            raise ValueError("bad unit")
        self.sensor = sensor
        self.value = value
        self.unit = unit
        self.taken_at = taken_at

    def to_celsius(self):
        if self.unit not in ("C", "F"):
            raise ValueError("bad unit")
        if self.unit == "C":
            return Reading(self.sensor, self.value, "C", self.taken_at)
        return Reading(self.sensor, (self.value - 32) * 5 / 9, "C", self.taken_at)

    def to_fahrenheit(self):
        if self.unit not in ("C", "F"):
            raise ValueError("bad unit")
        if self.unit == "F":
            return Reading(self.sensor, self.value, "F", self.taken_at)
        return Reading(self.sensor, self.value * 9 / 5 + 32, "F", self.taken_at)

    def __eq__(self, other):
        return self.to_celsius().value == other.to_celsius().value

    def __lt__(self, other):
        return self.taken_at < other.taken_at

    def __repr__(self):
        return "Reading(%s, %s%s at %s)" % (self.sensor, self.value, self.unit, self.taken_at)

Readings are created from a stream of about fifty a second, compared with == to remove duplicates, and sorted to build a timeline. A colleague noticed that two readings from different sensors are treated as duplicates when their temperatures match.`},
  {id: 'code-13', category: 'code', text: `Write a function in any language that parses durations such as "1h30m", "45s", "2h" and "1h2m3s" into a number of seconds, and rejects malformed input such as "h1", "1x" or an empty string.`},
  {id: 'code-14', category: 'code', text: `What is the difference between a process and a thread?`},
  {id: 'code-15', category: 'code', text: `I need to add a non-null column "status" with a default value to a table of 80 million rows in a production relational database that is in use all day. Write the migration in SQL and explain how to avoid locking the table for a long time.`},
  {id: 'code-16', category: 'code', text: `Write a Makefile for a small C project with sources in src/, headers in include/, objects built into build/, a test target that builds and runs tests/run_tests.c, and a clean target. Dependencies on headers should be tracked automatically.`},

  // ---------------------------------------------------------------- reasoning and arithmetic
  {id: 'reasoning-01', category: 'reasoning', text: `A train leaves at 14:10 and the journey takes 2 hours 55 minutes. When does it arrive?`},
  {id: 'reasoning-02', category: 'reasoning', text: `Three jars are labelled "buttons", "beads" and "buttons and beads". Every label is wrong. You may take one object out of one jar without looking inside. How can you relabel all three jars correctly? Explain your reasoning step by step.`},
  {id: 'reasoning-03', category: 'reasoning', text: `A farmyard holds only hens and goats. There are 30 heads and 74 legs. How many of each animal are there? Show your working.`},
  {id: 'reasoning-04', category: 'reasoning', text: `What is the probability of rolling at least one six in four rolls of a fair die?`},
  {id: 'reasoning-05', category: 'reasoning', text: `Five colleagues, Ana, Bo, Cato, Dita and Emil, must each present once, on five consecutive days from Monday to Friday. Ana cannot present on Monday. Bo must present on the day immediately after Cato. Dita presents later in the week than Emil. Emil cannot present on Friday, and Cato cannot present on Wednesday. Find every order that satisfies all the constraints, and explain how you ruled out the others.`},
  {id: 'reasoning-06', category: 'reasoning', text: `Estimate how many litres of water a household of four people uses in a year. Show the assumptions behind each part of your estimate.`},
  {id: 'reasoning-07', category: 'reasoning', text: `Is 221 a prime number?`},
  {id: 'reasoning-08', category: 'reasoning', text: `Someone deposits 2,500 at an annual interest rate of 3.2 %, compounded monthly. How much is in the account after four years, assuming no withdrawals? Show the formula you use.`},
  {id: 'reasoning-09', category: 'reasoning', text: `On an island, knights always tell the truth and knaves always lie. You meet two islanders, Reza and Tuva. Reza says: "At least one of us is a knave." What are Reza and Tuva? Explain.`},
  {id: 'reasoning-10', category: 'reasoning', text: `A small bakery wants to know whether a new product is worth making. Here are the figures.

Each batch makes 48 cinnamon rolls. Ingredients for one batch cost 19.20. Baking a batch uses the oven for 25 minutes; the oven costs about 1.80 per hour to run. The baker's time for one batch, including shaping and cleaning, is 50 minutes, and the bakery counts labour at 16 per hour. Rolls sell for 1.60 each. On an average day the bakery expects to sell 70 rolls, and rolls not sold by closing are given to a shelter. Packaging costs 0.05 per roll sold.

The bakery can only make whole batches. How many batches should it bake per day to maximise its expected daily profit, assuming demand is exactly 70? What is that profit? Then say how the answer would change if demand on some days were as low as 40 and on others as high as 100, and what further information would help decide.`},
  {id: 'reasoning-11', category: 'reasoning', text: `What comes next in the sequence 2, 6, 12, 20, 30, …? Explain the rule.`},
  {id: 'reasoning-12', category: 'reasoning', text: `Explain why the sum of two odd numbers is always even.`},
  {id: 'reasoning-13', category: 'reasoning', text: `A ferry operator must carry a wolf, a goat and a basket of cabbages across a river in a boat that holds the operator and one other item. The wolf cannot be left alone with the goat, and the goat cannot be left alone with the cabbages. Find the shortest sequence of crossings and explain why no shorter one exists.`},
  {id: 'reasoning-14', category: 'reasoning', text: `Here are the room bookings for Thursday. The building has two meeting rooms, North (seats 6) and South (seats 12). Check the bookings for conflicts and capacity problems, then propose a schedule that satisfies everyone, moving as few meetings as possible.

- Design review: 9:00 to 10:30, 8 people, booked in North.
- Budget check-in: 9:30 to 10:00, 3 people, booked in South.
- Interview: 10:00 to 11:00, 3 people, booked in North.
- Team lunch: 12:00 to 13:30, 11 people, booked in South.
- Planning session: 13:00 to 14:00, 5 people, booked in North.
- Supplier call: 13:15 to 13:45, 2 people, booked in South.
- Retrospective: 15:00 to 16:00, 7 people, booked in North.
- Training: 15:30 to 17:00, 10 people, booked in South.`},
  {id: 'reasoning-15', category: 'reasoning', text: `Convert 65 miles per hour to metres per second.`},
  {id: 'reasoning-16', category: 'reasoning', text: `Is this argument valid? "All the lamps in the hall are on a timer. Some things on a timer switch off at midnight. So some lamps in the hall switch off at midnight." Explain.`},

  // ---------------------------------------------------------------- creative writing
  {id: 'creative-01', category: 'creative', text: `Write a haiku about rain on a tin roof.`},
  {id: 'creative-02', category: 'creative', text: `Write the opening paragraph of a short story about a lighthouse keeper who receives a letter addressed to someone who died forty years ago. The tone should be quiet and slightly eerie, and the paragraph should end with the keeper deciding to open it.`},
  {id: 'creative-03', category: 'creative', text: `Write a limerick about a forgetful robot.`},
  {id: 'creative-04', category: 'creative', text: `Suggest five slogans for a neighbourhood bicycle repair cooperative run by volunteers.`},
  {id: 'creative-05', category: 'creative', text: `Continue this story for about 300 words, keeping the same voice, and end at a moment of decision rather than a resolution.

The night ferry to Skarvøy had run every evening for sixty years, and in all that time, as far as anyone on the island knew, it had never once arrived early. So when Ilse heard its horn at twenty past nine, forty minutes before it was due, she put down the net she was mending and went out onto the quay without her coat.

The boat was already tying up. Its deck lights were on, but there was nobody at the rail, and the man who usually threw the rope, old Pekka with his orange hat, was not there. A younger man she did not recognise jumped down instead, looped the rope over the bollard, and nodded to her as if they had known each other for years.

"You're Ilse," he said. "Good. We haven't much time."

She looked past him at the ferry. The car deck was empty except for a single wooden crate, roped down in the middle, about the size of a kitchen table. Someone had painted her grandmother's name on its side in careful white letters, and beneath the name, a date: tomorrow's.

"I don't understand," she said.

"Nobody does, the first time." He glanced at his watch, then at the dark water beyond the harbour wall. "The crate stays with you tonight. You don't open it, and you don't tell anyone it's here. At six tomorrow morning, I'll come back for your answer."`},
  {id: 'creative-06', category: 'creative', text: `Write a short dialogue between a cat and a robot vacuum cleaner that has just been switched on for the first time.`},
  {id: 'creative-07', category: 'creative', text: `Write a poem in the form of a weather forecast, where the weather stands for a person's feelings during one difficult week.`},
  {id: 'creative-08', category: 'creative', text: `Tell a gentle bedtime story for a five-year-old about a small cloud that is afraid of heights.`},
  {id: 'creative-09', category: 'creative', text: `Describe a city built on the back of an enormous, slow-walking tortoise. Cover how the people get food and water, how they deal with the tortoise's yearly sleep, what happens when it climbs a hill, and one tradition that only makes sense in such a place. Write it as a travel guide entry of about 250 words, in a dry, matter-of-fact tone.`},
  {id: 'creative-10', category: 'creative', text: `Write a two-minute toast for my friend Marisol's retirement party. Details: she taught maths at the same secondary school for 31 years, coached the chess club, which won the regional cup twice, and was famous for bringing lemon cake to every staff meeting. She is retiring to grow olives with her sister. She hates sentimental speeches but loves puns. I worked with her for twelve years in the room next door.`},
  {id: 'creative-11', category: 'creative', text: `Write a six-word story about moving house.`},
  {id: 'creative-12', category: 'creative', text: `Write the chorus of a song about the last night bus home.`},
  {id: 'creative-13', category: 'creative', text: `Write a letter from someone twenty years in the future to their present self, giving three pieces of advice and one warning, without revealing any specific events.`},
  {id: 'creative-14', category: 'creative', text: `Write a riddle whose answer is "a shadow".`},

  // ---------------------------------------------------------------- extraction
  {id: 'extraction-01', category: 'extraction', text: `List every date in this paragraph with the event that happened on it, as a table.

The bridge was first proposed in March 1887, but construction only began on 4 June 1891 after two years of arguments about the cost. A flood on 12 October 1893 swept away the temporary scaffolding, delaying the work by almost a year. The bridge finally opened to foot traffic on 1 May 1896 and to carts the following September.`},
  {id: 'extraction-02', category: 'extraction', text: `From this meeting invitation, extract the meeting title, date, start and end time, location, organiser, required attendees and optional attendees, as JSON.

Hi all, I'd like to set up our quarterly planning session for Tuesday 14 May, from 10:00 to 12:30, in the Cedar Room on the third floor (there will be a video link for anyone working from home). Please come prepared with your team's top three priorities. Required: Priya Raman, Lucas Ferreira, Ewa Nowak and Samuel Osei. Noor Haddad and Felix Brandt are welcome to join for the second half if they're free. Lunch will be provided afterwards. Thanks, Joanna (planning lead)`},
  {id: 'extraction-03', category: 'extraction', text: `Turn this recipe, written as a story, into a list of ingredients with quantities, followed by numbered steps.

My grandmother never wrote down her lentil soup, so this is my best reconstruction. She would start by warming two big spoonfuls of olive oil in her heavy pot and softening one chopped onion and two sliced carrots in it for about ten minutes, until the onion went golden at the edges. Then in went three cloves of garlic, crushed, and a teaspoon of ground cumin, stirred for just a minute so the garlic didn't burn. She rinsed 250 grams of red lentils in a sieve, tipped them in with a tin of chopped tomatoes and about a litre and a quarter of vegetable stock, and let it all simmer with the lid half on for twenty-five minutes, stirring now and then because the lentils like to stick. At the end she squeezed in the juice of half a lemon, added salt and pepper until it tasted right to her, and blended about half of the soup so it was thick but still had texture. She served it with a handful of chopped parsley on top and bread on the side. Enough for four, or for two with seconds.`},
  {id: 'extraction-04', category: 'extraction', text: `Extract the following fields from this invoice text as JSON: invoice number, issue date, due date, supplier name, customer name, each line item with quantity, unit price and line total, subtotal, tax rate, tax amount and total. Use null for anything missing.

INVOICE No. 2024-0173
Issued: 3 April 2024 — Payment due within 30 days
From: Tillwhistle Garden Supplies, Unit 4, Mill Lane Industrial Estate
To: Hollybrook Primary School, attn. Mrs D. Achterberg
Description / Qty / Unit price / Amount
Raised bed kit, larch, 1.2 m x 2.4 m / 3 / 84.00 / 252.00
Topsoil, 1 tonne bag / 2 / 56.50 / 113.00
Children's gardening gloves, pack of 10 / 4 / 12.75 / 51.00
Delivery / 1 / 25.00 / 25.00
Subtotal 441.00
VAT at 20 % 88.20
TOTAL DUE 529.20
Bank transfer only. Please quote the invoice number as the reference.`},
  {id: 'extraction-05', category: 'extraction', text: `From this job advertisement, extract three lists: essential requirements, desirable requirements, and benefits. Then note anything important that the advertisement does not say.

Maintenance Technician — Osterfell Leisure Centre
We're looking for a practical, safety-minded maintenance technician to join our small facilities team, which keeps our pool, gym, sports hall and café running seven days a week. You'll carry out planned maintenance on pool plant, air handling units and building fabric, respond to faults reported by staff and visitors, keep accurate records of water quality tests, and supervise contractors on site.
You must hold a recognised electrical or mechanical qualification at level 3 or above and have at least two years' experience maintaining commercial buildings. You'll need a full driving licence, as the role occasionally involves travelling to our two satellite sites. A pool plant operator certificate would be a real advantage, as would experience with building management systems. Good written English is essential because of the record-keeping involved, and you should be comfortable using a tablet to log jobs.
The role is 37.5 hours a week on a rota that includes one weekend in three and occasional early starts before the pool opens at 6:30. In return we offer 28 days' holiday plus public holidays, a pension with a 6 % employer contribution, free use of all our facilities for you and a family member, paid training towards further qualifications, and a uniform and tool allowance. This is a permanent position. To apply, send a CV and a short note about a fault you were proud of fixing.`},
  {id: 'extraction-06', category: 'extraction', text: `Count the ERROR lines per service in this log excerpt and list the distinct error messages for each service.

2024-05-02T10:00:01Z INFO  gateway  request id=81 path=/orders status=200
2024-05-02T10:00:02Z ERROR billing  payment provider timeout after 5000 ms
2024-05-02T10:00:02Z WARN  gateway  slow upstream billing 5012 ms
2024-05-02T10:00:03Z ERROR stock    item 4471 not found
2024-05-02T10:00:04Z INFO  stock    reserved item 1203 qty 2
2024-05-02T10:00:05Z ERROR billing  payment provider timeout after 5000 ms
2024-05-02T10:00:06Z ERROR gateway  upstream billing returned 502
2024-05-02T10:00:07Z INFO  billing  retry succeeded for order 991
2024-05-02T10:00:09Z ERROR stock    database connection reset
2024-05-02T10:00:10Z ERROR billing  card declined for order 993
2024-05-02T10:00:11Z INFO  gateway  request id=86 path=/health status=200
2024-05-02T10:00:12Z ERROR stock    item 4471 not found`},
  {id: 'extraction-07', category: 'extraction', text: `Extract the technical specifications from this description as a two-column table: "Our new kettle holds 1.7 litres, boils a full load in about four minutes on its 2200 W element, and switches off automatically. The body is brushed steel with a cool-touch handle, the base rotates through 360 degrees, and the limescale filter can be removed for washing. It weighs 1.1 kg empty and has a 75 cm cord."`},
  {id: 'extraction-08', category: 'extraction', text: `From this flat listing, extract the monthly rent, deposit, number of bedrooms, floor, whether pets are allowed, the earliest move-in date, and the bills included.

Bright two-bedroom flat on the second floor of a quiet building, five minutes' walk from the tram stop. Large living room with a bay window, separate kitchen with a new oven and hob, bathroom with shower over bath. The second bedroom is small and would suit a study or a child's room. Rent is 1,150 a month, with a deposit of five weeks' rent. Water and building insurance are included; electricity, heating and internet are paid by the tenant. Sorry, no pets, although the landlord may consider a cat for the right tenant. Available from the first of next month, and viewings are possible on weekday evenings. No smokers. Minimum tenancy twelve months.`},
  {id: 'extraction-09', category: 'extraction', text: `List all the numbers in this sentence, with what each one counts: "The expedition of 14 climbers set off with 9 mules, 3 guides and enough food for 21 days, and reached the pass at 4,350 metres on the sixth day."`},
  {id: 'extraction-10', category: 'extraction', text: `From this timetable note, list each departure with its time, destination and platform: "Weekday evening departures: the 18:05 to Wrenfield leaves from platform 2, followed by the 18:20 fast service to Castlegate on platform 4. The 18:42 stopping train to Wrenfield uses platform 1 on Fridays only; on other days it leaves from platform 2. The last train to Castlegate is at 23:10 from platform 4."`},

  // ---------------------------------------------------------------- translation
  {id: 'translation-01', category: 'translation', text: `Translate into French: "Where is the nearest train station?"`},
  {id: 'translation-02', category: 'translation', text: `Translate this paragraph into Spanish, keeping the friendly tone: "Thanks so much for looking after our plants while we were away. The tomatoes have never looked better! We brought you a small jar of honey from the market in the village, and we'd love to have you over for dinner next week if you're free."`},
  {id: 'translation-03', category: 'translation', text: `Translate this email into formal German: "Dear Dr Weber, thank you for your message of 12 March. Unfortunately I will not be able to attend the workshop on 4 April, as I will be travelling that week. Would it be possible to receive the slides afterwards? I would also be glad to arrange a short call later in April to discuss the results with you. With kind regards, Tomas Lindqvist."`},
  {id: 'translation-04', category: 'translation', text: `Translate into English: "Mañana vamos a la playa si no llueve."`},
  {id: 'translation-05', category: 'translation', text: `Translate these recipe steps into Italian: 1. Preheat the oven to 200 degrees. 2. Cut the peppers into strips and toss them with olive oil and salt. 3. Roast for 25 minutes, turning once. 4. Leave to cool, then dress with vinegar, garlic and basil. 5. Serve at room temperature with crusty bread.`},
  {id: 'translation-06', category: 'translation', text: `Translate into Japanese, in a polite register: "Thank you very much for your help yesterday."`},
  {id: 'translation-07', category: 'translation', text: `Translate these interface strings for a recipe app into Brazilian Portuguese. Keep placeholders in curly braces unchanged and keep each string short enough for a phone screen.
1. Save recipe
2. Remove from favourites
3. {count} servings
4. Cooking time: {minutes} min
5. Add to shopping list
6. Your shopping list is empty
7. Start cooking mode
8. Next step
9. Timer finished!
10. Share with a friend
11. Sign out
12. Are you sure you want to delete this recipe?`},
  {id: 'translation-08', category: 'translation', text: `Translate into English: "Le marché du samedi a lieu sur la place de l'église depuis plus de cent ans. On y trouve des fromages de la vallée, du pain cuit au feu de bois et, en automne, des châtaignes grillées que l'on mange en marchant. Les anciens disent qu'autrefois on y vendait aussi des chevaux."`},
  {id: 'translation-09', category: 'translation', text: `Translate this paragraph from legal language into plain English that a teenager could follow, without changing its meaning.

"The hirer shall be liable for any loss of or damage to the equipment howsoever caused during the hire period, save to the extent that such loss or damage results from fair wear and tear or from a latent defect in the equipment existing at the commencement of the hire period. The hirer shall notify the owner in writing of any such loss or damage within forty-eight hours of its occurrence. Failure to return the equipment by the agreed time shall entitle the owner to charge a daily fee equal to the daily hire rate until the equipment is returned, without prejudice to any other rights or remedies of the owner."`},
  {id: 'translation-10', category: 'translation', text: `Give the closest Dutch equivalents of these English idioms, with a literal translation of each Dutch one: "it's raining cats and dogs", "to let the cat out of the bag", "a piece of cake", "to kill two birds with one stone".`},

  // ---------------------------------------------------------------- rewriting and editing
  {id: 'rewrite-01', category: 'rewrite', text: `Make this more formal: "hey, can u send me the file asap? thx"`},
  {id: 'rewrite-02', category: 'rewrite', text: `Correct the grammar and spelling in this paragraph without changing its meaning, then list the corrections you made: "Their are many reason's why people choses to live in the countryside. For one, the air is more cleaner then in the city, and you can here birds instead of traffic. However, it can be difficult to get to work if you dont have a car, and the nearest shop are often a long way away. Me and my family moved their last year and we has no regrets."`},
  {id: 'rewrite-03', category: 'rewrite', text: `Rewrite this paragraph so that a ten-year-old can understand it: "Volcanic eruptions occur when magma, which is molten rock formed deep beneath the Earth's crust, rises through fissures due to its lower density relative to the surrounding solid rock. As the magma ascends, decreasing pressure allows dissolved gases to form bubbles, which can drive explosive eruptions if the magma is viscous and the gases cannot escape easily. Less viscous magma tends to produce effusive eruptions, in which lava flows steadily from the vent."`},
  {id: 'rewrite-04', category: 'rewrite', text: `Shorten this email to under 60 words, keeping every fact the reader needs.

Hi everyone, I hope you all had a lovely weekend and that the weather was kinder to you than it was to us! I just wanted to drop you a quick note about something that I think will affect most of you over the next couple of weeks. As some of you may already know, the building management company has told us that they need to carry out some essential maintenance work on the lifts in our building. This work is going to start on Monday the 10th and they currently expect it to last for around two weeks, although they did say it could possibly finish a little earlier if everything goes well. During this time, only one of the two lifts will be working at any given time, so there may be queues, particularly first thing in the morning and around lunchtime. If you have any mobility issues or you need to move heavy equipment during this period, please let me know by the end of this week and I will see what I can arrange with the building managers, who have said they are happy to help. Many thanks for your patience and understanding, and please do not hesitate to get in touch if you have any questions at all. Best wishes, Marta`},
  {id: 'rewrite-05', category: 'rewrite', text: `Turn these notes into one clear paragraph for a team newsletter: "new coffee machine arrives tue / old one goes to recycling / training 10 min at 9:30 wed kitchen / beans still from the same roaster / please descale weekly — rota on fridge / thanks to Femi for organising"`},
  {id: 'rewrite-06', category: 'rewrite', text: `Rewrite each sentence in the active voice: 1. The report was written by the interns. 2. Mistakes were made. 3. The window had been broken before we arrived. 4. The prize will be awarded by the mayor. 5. The road is being repaired. 6. The decision was criticised by several members of the committee.`},
  {id: 'rewrite-07', category: 'rewrite', text: `Make this product description half as long without losing any facts: "This wonderfully cosy and incredibly soft blanket is made from one hundred per cent pure, natural, high-quality wool that has been sourced from sheep raised on family farms. It measures 130 by 170 centimetres, which makes it the perfect size for wrapping yourself up on the sofa on a chilly evening. It is completely machine washable on a gentle wool cycle at 30 degrees, so keeping it clean and fresh is easy and hassle-free. It is available in three beautiful colours: forest green, oatmeal and charcoal grey."`},
  {id: 'rewrite-08', category: 'rewrite', text: `Rewrite the following as numbered instructions: "To reset the alarm you first open the cover on the side, but make sure you've turned the power off at the wall before you do that, and then you hold the small button down for about ten seconds until the light blinks red twice, after which you can close the cover and put the power back on, and it should beep once to tell you it worked."`},

  // ---------------------------------------------------------------- classification
  {id: 'classification-01', category: 'classification', text: `Classify the sentiment of each review as positive, negative or mixed:
1. "Arrived quickly and works perfectly."
2. "The colour is lovely but it shrank after one wash."
3. "Waited three weeks and it never came."
4. "Does exactly what it says. Would buy again."
5. "Comfortable, though the straps dig in after an hour."
6. "Customer service ignored my emails."
7. "Cheap, cheerful and surprisingly sturdy."
8. "Not bad, not great."`},
  {id: 'classification-02', category: 'classification', text: `Sort these support tickets into the categories billing, technical, account and other. Answer as a list of ticket number and category.
1. I was charged twice for my March subscription.
2. The app crashes when I open the settings page.
3. How do I change the email address on my profile?
4. Do you have any job openings?
5. My invoice shows the wrong company address.
6. Password reset link says it has expired.
7. Sync stopped working after the last update.
8. Can I get a refund for the unused months?
9. I want to delete my account and all my data.
10. Your office's parking entrance is blocked.`},
  {id: 'classification-03', category: 'classification', text: `Is this message likely to be a scam? Explain which details make you think so.

"Dear valued customer, we have detected unusual activity on your parcel delivery account. Your package is on hold and will be returned to sender within 24 hours unless you confirm your address and pay a redelivery fee of 1.99. Click the link below and enter your card details to release your parcel. Failure to act immediately will result in permanent suspension of your account."`},
  {id: 'classification-04', category: 'classification', text: `Label each statement as fact or opinion: 1. Water freezes at 0 °C at sea-level pressure. 2. Winter is the best season. 3. The Pacific is the largest ocean. 4. Jazz is more sophisticated than pop music. 5. Spiders have eight legs. 6. Everyone should learn to cook.`},
  {id: 'classification-05', category: 'classification', text: `Group these animals into mammals, birds, reptiles, amphibians and fish: bat, penguin, salamander, shark, tortoise, dolphin, ostrich, gecko, frog, salmon, platypus, crocodile.`},
  {id: 'classification-06', category: 'classification', text: `Which language is each sentence written in? 1. "Dziękuję bardzo." 2. "Hvor er toilettet?" 3. "Ik begrijp het niet." 4. "Kiitos paljon." 5. "Obrigado pela ajuda." 6. "Teşekkür ederim."`},
];
