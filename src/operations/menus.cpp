// Dishes with ingredients, nutrition per portion and allergens, and daily menus per client
// unit with their nutrition and allergens summed up (菜品、食谱与营养, §6.2.1).
#include <algorithm>

#include "core/ids.hpp"
#include "core/time.hpp"
#include "core/validate.hpp"
#include "operations/internal.hpp"
#include "operations/json_io.hpp"
#include "operations/operations.hpp"

namespace mingchu::operations {

namespace {

constexpr const char* kSelectDishes =
    "SELECT id, unit_id, jpath, name, ingredients, nutrition, allergens, at FROM op_dishes";
constexpr const char* kSelectMenus =
    "SELECT id, unit_id, jpath, client_name, day, meal, dishes, at, client_unit_id FROM op_menus";
// The newest meal batch of a dish a kitchen made in a time range: where the dish's ingredients
// on a public menu come from.
constexpr const char* kMealOfDish =
    "SELECT id, trace_code FROM op_meal_batches WHERE unit_id = $1 AND dish = $2 AND at >= $3 AND at < $4 "
    "ORDER BY at DESC, id LIMIT 1";
constexpr const char* kOrigins =
    "SELECT o.item, b.batch_no, b.produced_on, b.expires_on, a.sensory_ok, a.inspector, s.name, s.uscc "
    "FROM op_meal_batch_inputs i JOIN op_stock_outs o ON o.id = i.stock_out_id "
    "JOIN op_stock_out_lines l ON l.stock_out_id = o.id JOIN op_stock_batches b ON b.id = l.batch_id "
    "JOIN op_acceptances a ON a.id = b.acceptance_id JOIN op_suppliers s ON s.id = a.supplier_id "
    "WHERE i.meal_batch_id = $1 ORDER BY o.item, b.expires_on, b.id";

double num(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_number() ? it->value().to_number<double>() : 0;
}

Dish dish_from_row(const storage::Row& r) {
  Dish d;
  d.id = r.text(0);
  d.unit_id = r.text(1);
  d.jpath = r.text(2);
  d.name = r.text(3);
  if (auto v = parse_value(r.text(4)); v && v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (!e.is_object()) continue;
      const auto& o = e.as_object();
      auto item = o.find("item");
      d.ingredients.push_back(
          {item != o.end() && item->value().is_string() ? std::string(item->value().as_string()) : "",
           num(o, "grams")});
    }
  }
  if (auto n = parse_object(r.text(5))) {
    d.nutrition = {num(*n, "energy_kcal"), num(*n, "protein_g"), num(*n, "fat_g"), num(*n, "carbohydrate_g"),
                   num(*n, "sodium_mg")};
  }
  d.allergens = detail::ids_from_json(r.text(6));
  d.at = r.integer(7);
  return d;
}

std::string dish_json(const std::vector<DishIngredient>& ing) {
  json::array a;
  for (const auto& i : ing) a.push_back(json::object{{"item", i.item}, {"grams", i.grams}});
  return json::serialize(a);
}

Menu menu_from_row(storage::Connection& c, const storage::Row& r) {
  Menu m;
  m.id = r.text(0);
  m.unit_id = r.text(1);
  m.jpath = r.text(2);
  m.client_name = r.text(3);
  m.day = static_cast<int>(r.integer(4));
  m.meal = r.text(5);
  m.at = r.integer(7);
  m.client_unit_id = r.opt_text(8);
  for (const auto& id : detail::ids_from_json(r.text(6))) {
    storage::Rows d = c.query(std::string(kSelectDishes) + " WHERE id = $1", {id});
    if (d.empty()) continue;
    Dish dish = dish_from_row(d[0]);
    m.nutrition.energy_kcal += dish.nutrition.energy_kcal;
    m.nutrition.protein_g += dish.nutrition.protein_g;
    m.nutrition.fat_g += dish.nutrition.fat_g;
    m.nutrition.carbohydrate_g += dish.nutrition.carbohydrate_g;
    m.nutrition.sodium_mg += dish.nutrition.sodium_mg;
    for (const auto& a : dish.allergens) {
      if (std::find(m.allergens.begin(), m.allergens.end(), a) == m.allergens.end()) m.allergens.push_back(a);
    }
    m.dishes.push_back(std::move(dish));
  }
  std::sort(m.allergens.begin(), m.allergens.end());
  return m;
}

}  // namespace

Result<Dish> Operations::create_dish(const auth::Principal& p, const DishInput& in) {
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  Dish d;
  d.id = new_id("dish");
  d.unit_id = unit->id;
  d.jpath = unit->jpath;
  d.name = in.name;
  d.ingredients = in.ingredients;
  d.nutrition = in.nutrition;
  d.allergens = in.allergens;
  d.at = clock_.now_ms();
  json::object n{{"energy_kcal", d.nutrition.energy_kcal},
                 {"protein_g", d.nutrition.protein_g},
                 {"fat_g", d.nutrition.fat_g},
                 {"carbohydrate_g", d.nutrition.carbohydrate_g},
                 {"sodium_mg", d.nutrition.sodium_mg}};
  c->exec(
      "INSERT INTO op_dishes (id, unit_id, jpath, name, ingredients, nutrition, allergens, at) VALUES ($1, $2, $3, $4, "
      "$5, $6, $7, $8)",
      {d.id, d.unit_id, d.jpath, d.name, dish_json(d.ingredients), json::serialize(n), detail::ids_json(d.allergens),
       d.at});
  audit_.append(
      *c, auth::audit_entry(p, "dish.create", "dish:" + d.id, json::serialize(json::object{{"unit_id", d.unit_id}})));
  tx.commit();
  return d;
}

Result<Dish> Operations::get_dish(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("dish");
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(std::string(kSelectDishes) + " WHERE id = $1", {std::string(id)});
  if (r.empty() || !p.covers(r[0].text(2), r[0].text(1))) return Error::not_found("dish");
  return dish_from_row(r[0]);
}

Result<Page<Dish>> Operations::list_dishes(const auth::Principal& p, const ListFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "at");
  Page<Dish> out;
  if (!w) return out;
  out.total = detail::capped_count(*c, *w, "op_dishes");
  for (const auto& r : w->page(*c, kSelectDishes, "at DESC, id", page)) out.items.push_back(dish_from_row(r));
  return out;
}

Result<Menu> Operations::create_menu(const auth::Principal& p, const MenuInput& in) {
  if (in.day > today() + 366) return Error::invalid("day", "too_far", "field 'day' is more than a year ahead");
  storage::Conn c = db_.acquire();
  storage::Transaction tx(*c);
  auto unit = detail::writable_unit(*c, p, in.unit_id);
  if (!unit) return unit.error();
  for (size_t i = 0; i < in.dish_ids.size(); ++i) {
    storage::Rows d = c->query("SELECT unit_id FROM op_dishes WHERE id = $1", {in.dish_ids[i]});
    if (d.empty() || d[0].text(0) != unit->id) {
      return detail::unknown_reference("dish_ids[" + std::to_string(i) + "]", "dish");
    }
  }
  if (in.client_unit_id) {
    // any live unit may receive a kitchen's meals (a school canteen is another unit, often in
    // no scope of the kitchen's users); its public page names the kitchen
    if (c->query("SELECT 1 FROM units WHERE id = $1 AND deleted_at IS NULL", {*in.client_unit_id}).empty()) {
      return detail::unknown_reference("client_unit_id", "unit");
    }
  }
  const std::string id = new_id("menu");
  const TimeMs now = clock_.now_ms();
  c->exec(
      "INSERT INTO op_menus (id, unit_id, jpath, client_name, day, meal, dishes, at, client_unit_id) VALUES ($1, $2, "
      "$3, $4, $5, $6, $7, $8, $9)",
      {id, unit->id, unit->jpath, in.client_name, std::int64_t{in.day}, in.meal, detail::ids_json(in.dish_ids), now,
       detail::nullable(in.client_unit_id)});
  audit_.append(
      *c, auth::audit_entry(p, "menu.create", "menu:" + id, json::serialize(json::object{{"unit_id", unit->id}})));
  storage::Rows r = c->query(std::string(kSelectMenus) + " WHERE id = $1", {id});
  Menu m = menu_from_row(*c, r[0]);
  tx.commit();
  return m;
}

Result<Menu> Operations::get_menu(const auth::Principal& p, std::string_view id) {
  if (!plausible_id(id)) return Error::not_found("menu");
  storage::Conn c = db_.acquire();
  storage::Rows r = c->query(std::string(kSelectMenus) + " WHERE id = $1", {std::string(id)});
  if (r.empty() || !p.covers(r[0].text(2), r[0].text(1))) return Error::not_found("menu");
  return menu_from_row(*c, r[0]);
}

Result<Page<Menu>> Operations::list_menus(const auth::Principal& p, const MenuFilter& f, PageRequest page) {
  storage::Conn c = db_.acquire();
  auto w = detail::list_where(*c, p, f, "at");
  Page<Menu> out;
  if (!w) return out;
  if (f.day) w->add("day = {}", std::int64_t{*f.day});
  out.total = detail::capped_count(*c, *w, "op_menus");
  for (const auto& r : w->page(*c, kSelectMenus, "day DESC, meal, id", page)) out.items.push_back(menu_from_row(*c, r));
  return out;
}

Result<json::object> Operations::public_menu(const std::string& unit_id) {
  const int off = config_.utc_offset_minutes;
  const int day = today();
  const TimeMs day_start = static_cast<TimeMs>(day) * kDayMs - static_cast<TimeMs>(off) * kMinuteMs;
  storage::Conn c = db_.acquire();
  json::array menus;
  for (const auto& r : c->query(std::string(kSelectMenus) +
                                    " WHERE day = $2 AND (client_unit_id = $1 OR (unit_id = $1 AND client_unit_id IS "
                                    "NULL)) ORDER BY CASE meal WHEN 'breakfast' THEN 0 WHEN 'lunch' THEN 1 WHEN "
                                    "'dinner' THEN 2 ELSE 3 END, id LIMIT 20",
                                {unit_id, std::int64_t{day}})) {
    Menu m = menu_from_row(*c, r);
    storage::Rows kitchen = c->query("SELECT name FROM units WHERE id = $1 AND deleted_at IS NULL", {m.unit_id});
    if (kitchen.empty()) continue;
    json::array dishes;
    for (const auto& d : m.dishes) {
      json::array ingredients, origins;
      for (const auto& i : d.ingredients) ingredients.push_back(json::object{{"item", i.item}, {"grams", i.grams}});
      json::value trace_code = nullptr;
      storage::Rows meal = c->query(kMealOfDish, {m.unit_id, d.name, day_start, day_start + kDayMs});
      if (!meal.empty()) {
        trace_code = meal[0].text(1);
        for (const auto& o : c->query(kOrigins, {meal[0].text(0)})) {
          origins.push_back(
              json::object{{"item", o.text(0)},
                           {"batch_no", o.opt_text(1) ? json::value(*o.opt_text(1)) : json::value(nullptr)},
                           {"produced_on", format_date(static_cast<int>(o.integer(2)))},
                           {"expires_on", format_date(static_cast<int>(o.integer(3)))},
                           {"acceptance", json::object{{"sensory_ok", o.boolean(4)},
                                                       {"inspector", o.opt_text(5) ? mask_name(*o.opt_text(5)) : ""}}},
                           {"supplier", json::object{{"name", o.text(6)}, {"uscc", o.text(7)}}}});
        }
      }
      dishes.push_back(json::object{{"name", d.name},
                                    {"nutrition", to_json(d.nutrition)},
                                    {"allergens", detail::strings_json(d.allergens)},
                                    {"ingredients", std::move(ingredients)},
                                    {"trace_code", std::move(trace_code)},
                                    {"origins", std::move(origins)}});
    }
    menus.push_back(json::object{{"meal", m.meal},
                                 {"kitchen", json::object{{"name", kitchen[0].text(0)}}},
                                 {"client_name", m.client_name},
                                 {"nutrition", to_json(m.nutrition)},
                                 {"allergens", detail::strings_json(m.allergens)},
                                 {"dishes", std::move(dishes)}});
  }
  return json::object{{"day", format_date(day)}, {"menus", std::move(menus)}};
}

}  // namespace mingchu::operations
